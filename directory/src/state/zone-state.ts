import type { SigningKey } from '@switchboard/dnssec';
import { ExportSigner } from '../transfer/export-signer.js';
import type { OnlineSigner } from '../zone/signer.js';
import type { DirectoryStore } from './store.js';
import type { SignedZone } from '../transfer/transfer.js';
import { signZoneForExport } from '../transfer/transfer.js';
import type { ZoneSettings, ZoneSnapshot } from '../zone/zone.js';
import { buildZone, expectedCount, updateZone } from '../zone/zone.js';

/**
 * The in-memory zone served by DNS, kept in step with the database: reloaded right after a
 * local change and polled (default every 500 ms) for changes made by other replicas, so every
 * change is visible within a second. Listeners run after each new serial (NOTIFY).
 */
export class ZoneState {
  readonly #store: DirectoryStore;
  readonly #settings: ZoneSettings;
  readonly #key: SigningKey;
  readonly #signer: OnlineSigner;
  readonly #exportSigner = new ExportSigner();
  #snapshot: ZoneSnapshot;
  #signed: SignedZone | undefined;
  /** The whole-zone signing under way (one at a time), for the serial it signs. */
  #signing: { readonly serial: number; readonly result: Promise<SignedZone> } | undefined;
  /** Recently transferred versions, for IXFR deltas (RFC 1995), oldest first. */
  readonly #history: SignedZone[] = [];
  #reloading: Promise<void> = Promise.resolve();
  readonly #listeners: Array<(serial: number) => void> = [];

  private constructor(
    store: DirectoryStore,
    settings: ZoneSettings,
    key: SigningKey,
    signer: OnlineSigner,
    snapshot: ZoneSnapshot,
  ) {
    this.#store = store;
    this.#settings = settings;
    this.#key = key;
    this.#signer = signer;
    this.#snapshot = snapshot;
  }

  static async load(
    store: DirectoryStore,
    settings: ZoneSettings,
    key: SigningKey,
    signer: OnlineSigner,
  ): Promise<ZoneState> {
    const { serial, entries } = await store.snapshot();
    return new ZoneState(
      store,
      settings,
      key,
      signer,
      buildZone(settings, serial, entries, [key.dnskey]),
    );
  }

  get snapshot(): ZoneSnapshot {
    return this.#snapshot;
  }

  get signer(): OnlineSigner {
    return this.#signer;
  }

  /** The worker thread that signs the zone for transfer and export. */
  get exportSigner(): ExportSigner {
    return this.#exportSigner;
  }

  /** Calls `listener(serial)` after every serial change this process sees. */
  onChange(listener: (serial: number) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Reloads from the database if the serial moved. Calls are serialised, so a caller that
   * returns has seen every change committed before it called.
   */
  refresh(): Promise<void> {
    const next = this.#reloading.then(() => this.#reload());
    // A failed reload must not wedge the chain; the caller still sees the failure.
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  async #reload(): Promise<void> {
    const serial = await this.#store.serial();
    const previous = this.#snapshot;
    if (serial === previous.serial) return;
    // Only what changed is read and built again (a 100,000-number zone took most of a second to
    // reload whole, with DNS waiting meanwhile).
    const changes = await this.#store.changesSince(previous.serial, (changed) =>
      expectedCount(previous, changed),
    );
    let current: number;
    if (changes) {
      current = changes.serial;
      this.#snapshot = updateZone(previous, current, changes.numbers, changes.changed, [
        this.#key.dnskey,
      ]);
    } else {
      const whole = await this.#store.snapshot();
      current = whole.serial;
      this.#snapshot = buildZone(this.#settings, current, whole.entries, [this.#key.dnskey]);
    }
    for (const listener of this.#listeners) listener(current);
  }

  /**
   * The NSEC3-signed zone of the current snapshot for transfer/export (`now` in seconds),
   * signed once per serial on the export worker thread while the event loop keeps answering.
   * Callers asking for the serial being signed share its result; a newer serial is signed
   * after the one under way (which still completes for those waiting on it).
   */
  signedZone(now: number): Promise<SignedZone> {
    const snapshot = this.#snapshot;
    if (this.#signed?.serial === snapshot.serial) return Promise.resolve(this.#signed);
    if (this.#signing?.serial === snapshot.serial) return this.#signing.result;
    const before = this.#signing?.result.catch(() => undefined);
    const result = (async () => {
      await before;
      const signed = await signZoneForExport(
        snapshot,
        this.#key,
        this.#signer,
        this.#exportSigner,
        now,
      );
      if (this.#signed === undefined || signed.serial > this.#signed.serial) {
        this.#signed = signed;
      }
      this.#history.push(signed);
      if (this.#history.length > 16) this.#history.shift();
      return signed;
    })();
    const signing = { serial: snapshot.serial, result };
    this.#signing = signing;
    // A failed signing is forgotten, so the next request tries again.
    const done = (): void => {
      if (this.#signing === signing) this.#signing = undefined;
    };
    result.then(done, done);
    return result;
  }

  /** A previously transferred version still held for IXFR, if any. */
  transferredVersion(serial: number): SignedZone | undefined {
    return this.#history.find((z) => z.serial === serial);
  }

  /**
   * Whether the exported signatures need renewing: true when the last signed export expires
   * within `margin` seconds. The caller then bumps the serial so secondaries transfer anew.
   */
  exportNeedsResigning(now: number, margin: number): boolean {
    return this.#signed !== undefined && this.#signed.expires - now < margin;
  }

  /** Stops the export worker thread (signings under way fail). */
  close(): Promise<void> {
    return this.#exportSigner.close();
  }
}
