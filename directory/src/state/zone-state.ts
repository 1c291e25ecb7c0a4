import type { DnskeyData } from '@switchboard/dns-wire';
import type { SigningKey } from '@switchboard/dnssec';
import { ExportSigner } from '../transfer/export-signer.js';
import type { OnlineSigner } from '../zone/signer.js';
import type { DirectoryStore, RawEntry } from './store.js';
import type { TransferForm, TransferZone } from '../transfer/transfer.js';
import { signZoneForExport, unsignedZoneForTransfer } from '../transfer/transfer.js';
import type { StreamedTransfer } from '../transfer/xfr-stream.js';
import { unsignedTransfer } from '../transfer/xfr-stream.js';
import type { UnservableEntry, ZoneSettings, ZoneSnapshot } from '../zone/zone.js';
import { answersFingerprint, expectedCount, imageZone, updateZone } from '../zone/zone.js';
import { ZoneImage } from '../zone/image.js';
import { AnswerCache } from '../zone/answer-cache.js';

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
  /** The apex DNSKEY RRset: the zone key, then the secondary operators' keys. */
  readonly #dnskeys: readonly DnskeyData[];
  /** What AXFR/IXFR serve. */
  readonly #form: TransferForm;
  /** The cap of the answer cache a refilled image starts with. */
  readonly #answerCacheBytes: number | undefined;
  #snapshot: ZoneSnapshot;
  /** The store's instance token (image.ts). */
  readonly #token: string;
  /** The pre-signed form: the latest version made, the one being made, recent ones for IXFR. */
  readonly #forms = new Map<TransferForm, FormVersions>();
  #reloading: Promise<void> = Promise.resolve();
  readonly #listeners: Array<(serial: number) => void> = [];

  private constructor(
    store: DirectoryStore,
    settings: ZoneSettings,
    key: SigningKey,
    signer: OnlineSigner,
    options: ZoneStateOptions,
    snapshot: ZoneSnapshot,
    token: string,
  ) {
    this.#token = token;
    this.#store = store;
    this.#settings = settings;
    this.#key = key;
    this.#signer = signer;
    this.#dnskeys = dnskeySet(key, options.operatorKeys ?? []);
    this.#form = options.transferForm ?? 'unsigned';
    this.#answerCacheBytes = options.answerCacheBytes;
    this.#snapshot = snapshot;
  }

  /**
   * Opens the zone image (`options.imagePath`, default in memory) and brings it up to the
   * store's serial: a restart reads only what changed since the serial it holds. A first start
   * (or an image from another database, or one too far behind) reads the numbers from the
   * store's SQLite file (`options.storeFile`) without copying them; other stores are copied
   * into it. Nothing is signed ahead: answers are signed on demand and kept in the image.
   */
  static async load(
    store: DirectoryStore,
    settings: ZoneSettings,
    key: SigningKey,
    signer: OnlineSigner,
    options: ZoneStateOptions = {},
  ): Promise<ZoneState> {
    const dnskeys = dnskeySet(key, options.operatorKeys ?? []);
    const fingerprint = answersFingerprint(settings, [key.dnskey], null);
    const path = options.imagePath;
    // Replicas sharing a data directory each keep an image of their own.
    const image = path
      ? ZoneImage.claim(
          [path, ...[2, 3, 4].map((i) => path.replace(/(\.db)?$/, `-${i}$1`))],
          fingerprint,
          options.storeFile,
        )
      : ZoneImage.open(':memory:', fingerprint, options.storeFile);
    try {
      // The IXFR journal holds the numbers' records; the apex's are made from these.
      image.journalFor(answersFingerprint(settings, dnskeys, 'journal'));
      const token = await store.instanceToken();
      if (image.serial === undefined || image.token !== token) await refill(store, image, token);
      const state = new ZoneState(
        store,
        settings,
        key,
        signer,
        options,
        imageZone(settings, image, dnskeys, undefined, new AnswerCache(options.answerCacheBytes)),
        token,
      );
      // Caught up once counting the numbers, so removals made by other writers than the store
      // (which records its own) are seen; later reloads do not count (seconds at 10 million).
      // An image reading the store's file has nothing to miss.
      await state.#reload(!image.readsStore);
      return state;
    } catch (err) {
      image.close();
      throw err;
    }
  }

  /** What AXFR/IXFR serve (`unsigned` unless the operator opted in to pre-signed NSEC3). */
  get transferForm(): TransferForm {
    return this.#form;
  }

  get snapshot(): ZoneSnapshot {
    return this.#snapshot;
  }

  /** Calls `listener` for each stored entry found unservable while answering or transferring. */
  onUnservable(listener: (bad: UnservableEntry) => void): void {
    this.#snapshot.nodes.onUnservable = listener;
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

  async #reload(count = false): Promise<void> {
    const serial = await this.#store.serial();
    const previous = this.#snapshot;
    if (serial === previous.serial) return;
    // Only what changed is read and applied to the image in place (a 100,000-number zone took
    // most of a second to reload whole, with DNS waiting meanwhile).
    const changes = await this.#store.changesSince(
      previous.serial,
      count ? (changed, removed) => expectedCount(previous, changed, removed) : undefined,
      CATCH_UP_LIMIT,
    );
    if (changes) {
      this.#snapshot = updateZone(
        previous,
        changes.serial,
        changes.numbers,
        changes.changed,
        this.#dnskeys,
        changes.removed,
        this.#token,
      );
    } else {
      await refill(this.#store, previous.image, this.#token);
      // Any name may have changed: the answers kept in memory are dropped with their cache.
      this.#snapshot = imageZone(
        this.#settings,
        previous.image,
        this.#dnskeys,
        previous.nodes,
        new AnswerCache(this.#answerCacheBytes),
      );
      for (const listener of this.#listeners) listener(this.#snapshot.serial);
      // What changed since the copy began.
      await this.#reload();
      return;
    }
    for (const listener of this.#listeners) listener(this.#snapshot.serial);
  }

  /**
   * The current snapshot in transfer form (`now` in seconds): the configured form unless
   * `form` says otherwise. Made once per serial and form (signing on the export worker thread,
   * encoding in slices) while the event loop keeps answering. Callers asking for the serial
   * being made share its result; a newer serial is made after the one under way (which still
   * completes for those waiting on it).
   */
  transferZone(now: number, form: TransferForm = this.#form): Promise<TransferZone> {
    // Whole only for the operator's export: transfers of this form are streamed.
    if (form === 'unsigned') return unsignedZoneForTransfer(this.#snapshot);
    const versions = this.#versions(form);
    const snapshot = this.#snapshot;
    if (versions.latest?.serial === snapshot.serial) return Promise.resolve(versions.latest);
    if (versions.making?.serial === snapshot.serial) return versions.making.result;
    const before = versions.making?.result.catch(() => undefined);
    const result = (async () => {
      await before;
      const made = await signZoneForExport(
        snapshot,
        this.#key,
        this.#signer,
        this.#exportSigner,
        now,
      );
      if (versions.latest === undefined || made.serial > versions.latest.serial) {
        versions.latest = made;
      }
      versions.history.push(made);
      if (versions.history.length > 16) versions.history.shift();
      return made;
    })();
    const making = { serial: snapshot.serial, result };
    versions.making = making;
    // A failed attempt is forgotten, so the next request tries again.
    const done = (): void => {
      if (versions.making === making) versions.making = undefined;
    };
    result.then(done, done);
    return result;
  }

  #versions(form: TransferForm): FormVersions {
    let versions = this.#forms.get(form);
    if (!versions) {
      versions = { latest: undefined, making: undefined, history: [] };
      this.#forms.set(form, versions);
    }
    return versions;
  }

  /**
   * The unsigned form's AXFR, or its IXFR from `from` (the journal's difference when it reaches
   * back, else the whole zone), of the snapshot served now, streamed (transfer/xfr-stream.ts):
   * nothing of the zone is held whole. Rejects when that version can no longer be read.
   */
  unsignedTransfer(from?: number): Promise<StreamedTransfer> {
    return unsignedTransfer(this.#snapshot, from);
  }

  /** A previously transferred pre-signed version still held for IXFR, if any. */
  transferredVersion(serial: number): TransferZone | undefined {
    return this.#forms.get(this.#form)?.history.find((z) => z.serial === serial);
  }

  /**
   * Whether the exported signatures need renewing: true when the last pre-signed version
   * expires within `margin` seconds. The caller then bumps the serial so secondaries transfer
   * anew. Never for the unsigned form.
   */
  exportNeedsResigning(now: number, margin: number): boolean {
    const latest = this.#forms.get('presigned-nsec3')?.latest;
    return latest !== undefined && latest.expires - now < margin;
  }

  /** Stops the export worker thread (signings under way fail) and closes the zone image. */
  async close(): Promise<void> {
    try {
      await this.#exportSigner.close();
    } finally {
      this.#snapshot.image.close();
    }
  }
}

/** Options of {@link ZoneState.load}. */
export interface ZoneStateOptions {
  /**
   * Secondary operators' public keys, published in the apex DNSKEY RRset next to the zone key
   * (RFC 8901 multi-signer); keys equal to the zone key are left out.
   */
  readonly operatorKeys?: readonly DnskeyData[];
  /** What AXFR/IXFR serve; default `unsigned`. */
  readonly transferForm?: TransferForm;
  /** The zone image's file (zone/image.ts); default in memory, filled anew on every start. */
  readonly imagePath?: string;
  /**
   * The store's SQLite file, when it is one: the image reads the numbers from it instead of
   * copying them (a first start answers at once, whatever the zone's size).
   */
  readonly storeFile?: string;
  /** The most octets of encoded answers kept in memory (answer-cache.ts); default 1 GiB. */
  readonly answerCacheBytes?: number;
}

/** More entries changed than this since the image's serial: it is filled anew instead. */
const CATCH_UP_LIMIT = 100_000;
/** Entries copied per page when the image is filled anew. */
const FILL_PAGE = 5000;

/**
 * Takes `image` anew to the store's current content. Reading the store's file, nothing is
 * copied. Otherwise every entry is copied page by page (the DNS path reads the old content
 * meanwhile), as the content of the serial read before the first page; entries written while it
 * copies are copied again by the catch-up that follows (their serials are later).
 */
async function refill(store: DirectoryStore, image: ZoneImage, token: string): Promise<void> {
  const serial = await store.serial();
  if (image.readsStore) return image.follow(serial, token);
  const build = image.rebuild();
  for (let after = ''; ;) {
    const rows = await store.rawPage(after, FILL_PAGE);
    if (rows.length === 0) break;
    build.add(
      rows.map((r) => ({
        digits: r.number.slice(1),
        serial: r.serial,
        provider: r.provider,
        identityKey: r.identityKey,
        contacts: r.contacts,
      })),
    );
    after = (rows[rows.length - 1] as RawEntry).number;
  }
  build.finish(serial, token);
}

interface FormVersions {
  latest: TransferZone | undefined;
  making: { readonly serial: number; readonly result: Promise<TransferZone> } | undefined;
  /** Recently transferred versions, for IXFR deltas (RFC 1995), oldest first. */
  readonly history: TransferZone[];
}

/** The zone key first, then each operator key not already in the set. */
function dnskeySet(key: SigningKey, operatorKeys: readonly DnskeyData[]): DnskeyData[] {
  const out: DnskeyData[] = [key.dnskey];
  const seen = new Set([dnskeyId(key.dnskey)]);
  for (const k of operatorKeys) {
    if (seen.has(dnskeyId(k))) continue;
    seen.add(dnskeyId(k));
    out.push(k);
  }
  return out;
}

function dnskeyId(k: DnskeyData): string {
  return `${k.flags} ${k.protocol} ${k.algorithm} ${Buffer.from(k.publicKey).toString('base64')}`;
}
