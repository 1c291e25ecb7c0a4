import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage, StorageWrite } from '../storage.js';

/** Stands for "read, and not there" in the object cache. */
const ABSENT: unique symbol = Symbol('absent');

/** A settled promise, handed back where there is nothing to wait for. */
const DONE: Promise<void> = Promise.resolve();

/** The writes of one unit, serialised only when it commits. */
type Batch = Map<string, () => StorageWrite>;

/** Records kept parsed at most (a device's sessions, identities and prekeys in use). */
const CAPACITY = 4096;

/**
 * Parsed records kept in memory over a {@link KeyValueStorage}, with the writes of one unit of
 * work (one message encrypted or decrypted, one session set up) deferred and written together
 * when the unit succeeds, in one {@link KeyValueStorage.batch} where the storage offers it.
 *
 * The guarantee: a unit's changes reach storage all together before the unit's result is handed
 * back, or not at all. If the unit fails, or the process dies before its commit, storage still
 * holds the state from before the unit, so the same message can be decrypted again (nothing is
 * lost) and nothing was returned from the failed attempt (nothing is shown twice). Writes made
 * outside a unit are written through at once.
 *
 * Reads of kept records answer with an already settled promise and no async frames: libsignal
 * makes several store calls per message, each awaited across its native bridge.
 */
export class StoreCache {
  readonly #storage: KeyValueStorage;
  readonly #objects = new Map<string, unknown>();
  /** The batch of the unit running now (units run one at a time). */
  #running: Batch | undefined;
  /** Units started and not yet settled; the next one waits for {@link #chain}. */
  #pending = 0;
  #chain: Promise<unknown> = DONE;

  constructor(storage: KeyValueStorage) {
    this.#storage = storage;
  }

  /** The record under `key` (parsed once with `parse` and then kept), or `absent`. */
  read<T, A>(key: string, parse: (text: string) => T, absent: A): Promise<T | A> {
    const kept = this.#objects.get(key);
    if (kept !== undefined) return Promise.resolve(kept === ABSENT ? absent : (kept as T));
    return this.#load(key, parse, absent);
  }

  async #load<T, A>(key: string, parse: (text: string) => T, absent: A): Promise<T | A> {
    const text = await this.#storage.get(key);
    const value = text === undefined ? ABSENT : parse(text);
    // A unit may have written the key while storage was read: what it wrote wins.
    if (!this.#objects.has(key)) this.#remember(key, value);
    const kept = this.#objects.get(key);
    return kept === ABSENT ? absent : (kept as T);
  }

  /**
   * Keeps `value` under `key`; written when the running unit commits if `inUnit` (and one is
   * running), else now.
   */
  write<T>(key: string, value: T, serialize: (value: T) => string, inUnit: boolean): Promise<void> {
    return this.#put(key, value, () => ({ key, value: serialize(value), secret: true }), inUnit);
  }

  remove(key: string, inUnit: boolean): Promise<void> {
    return this.#put(key, ABSENT, () => ({ key, value: undefined }), inUnit);
  }

  /** Forgets every kept record: the next reads come from storage (written other than through here). */
  forget(): void {
    this.#objects.clear();
  }

  /** Keys under `prefix` as storage holds them (writes of a running unit not included). */
  list(prefix: string): Promise<string[]> {
    return this.#storage.list(prefix);
  }

  /**
   * Runs `work` as one unit: units run one at a time, and the writes made during `work` with
   * `inUnit` set are committed together after it resolves and before its result is returned.
   */
  unit<T>(work: () => Promise<T>): Promise<T> {
    const go = (): Promise<T> => this.#run(work);
    const idle = this.#pending === 0;
    this.#pending += 1;
    // The chain is the last unit's own promise (settled or not): no promise made per unit.
    const run = idle ? go() : this.#chain.then(go, go);
    this.#chain = run;
    return run;
  }

  async #run<T>(work: () => Promise<T>): Promise<T> {
    const batch: Batch = new Map();
    this.#running = batch;
    try {
      const result = await work();
      await this.#commit(batch);
      return result;
    } catch (err) {
      // What the unit changed is forgotten, so the next read sees storage's state again.
      for (const key of batch.keys()) this.#objects.delete(key);
      throw err;
    } finally {
      this.#running = undefined;
      this.#pending -= 1;
    }
  }

  #put(key: string, value: unknown, write: () => StorageWrite, inUnit: boolean): Promise<void> {
    this.#remember(key, value);
    const batch = inUnit ? this.#running : undefined;
    if (batch) {
      batch.set(key, write);
      return DONE;
    }
    return this.#writeNow(key, write);
  }

  async #writeNow(key: string, write: () => StorageWrite): Promise<void> {
    try {
      await this.#commit(new Map([[key, write]]));
    } catch (err) {
      this.#objects.delete(key);
      throw err;
    }
  }

  /** Writes `batch` (a storage `batch` when there is one); a record failing to serialise throws. */
  #commit(batch: Batch): Promise<void> {
    if (batch.size === 0) return DONE;
    const writes = Array.from(batch.values(), (write) => write());
    if (this.#storage.batch) return this.#storage.batch(writes);
    return this.#writeEach(writes);
  }

  async #writeEach(writes: readonly StorageWrite[]): Promise<void> {
    for (const w of writes) {
      if (w.value === undefined) await this.#storage.delete(w.key);
      else await this.#storage.set(w.key, w.value, { secret: w.secret === true });
    }
  }

  #remember(key: string, value: unknown): void {
    this.#objects.delete(key);
    this.#objects.set(key, value);
    if (this.#objects.size <= CAPACITY) return;
    for (const old of this.#objects.keys()) {
      if (this.#objects.size <= CAPACITY) break;
      if (!this.#running?.has(old)) this.#objects.delete(old);
    }
  }
}

/** JSON text of a stored record, refused clearly when corrupt. */
export function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new SwitchboardError('storage-failed', 'a stored record is not valid JSON', { cause });
  }
}
