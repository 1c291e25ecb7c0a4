import type { SigningKey } from '@switchboard/dnssec';
import type { OnlineSigner } from './signer.js';
import type { DirectoryStore } from './store.js';
import type { SignedZone } from './transfer.js';
import { signZoneForExport } from './transfer.js';
import type { ZoneSettings, ZoneSnapshot } from './zone.js';
import { buildZone } from './zone.js';

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
  #snapshot: ZoneSnapshot;
  #signed: SignedZone | undefined;
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
    if (serial === this.#snapshot.serial) return;
    const { serial: current, entries } = await this.#store.snapshot();
    this.#snapshot = buildZone(
      this.#settings,
      current,
      entries,
      [this.#key.dnskey],
      this.#snapshot,
    );
    for (const listener of this.#listeners) listener(current);
  }

  /** The NSEC3-signed zone for transfer/export, signed once per serial (`now` in seconds). */
  signedZone(now: number): SignedZone {
    const snapshot = this.#snapshot;
    if (this.#signed?.serial !== snapshot.serial) {
      this.#signed = signZoneForExport(snapshot, this.#key, this.#signer, now);
      this.#history.push(this.#signed);
      if (this.#history.length > 16) this.#history.shift();
    }
    return this.#signed;
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
}
