import { fromBase64, toBase64 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage, StorageWrite } from '../storage.js';
import { storesBytes } from '../storage.js';

/** Stands for "read, and not there" in the object cache. */
const ABSENT: unique symbol = Symbol('absent');

/** A settled promise, handed back where there is nothing to wait for. */
const DONE: Promise<void> = Promise.resolve();

/** How a kept value is stored: its text or bytes (not called for a removed key). */
type Encode = (value: never) => string | Uint8Array;

/**
 * The writes of one unit: each key written and how its kept value is encoded, serialised only
 * when the unit commits (the value is the one kept then; keys of a running unit are never
 * evicted or forgotten). No closure is made per write.
 */
type Batch = Map<string, Encode>;

/** What is kept under a key not read yet (see {@link StoreCache.peek}). */
export const NOT_KEPT: unique symbol = Symbol('not kept');

/** A libsignal record: its bytes are what is stored. */
export interface BinaryRecord {
  serialize(): Uint8Array;
}

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
  /** Whether the storage takes bytes: libsignal records are then stored without base64 text. */
  readonly #bytes: boolean;
  readonly #objects = new Map<string, unknown>();
  /** The batch of the unit running now (units run one at a time). */
  #running: Batch | undefined;
  /** The one batch map, reused by every unit (cleared when a unit ends). */
  readonly #batch: Batch = new Map();
  /** Units started and not yet settled; the next one waits for {@link #chain}. */
  #pending = 0;
  #chain: Promise<unknown> = DONE;

  constructor(storage: KeyValueStorage) {
    this.#storage = storage;
    this.#bytes = storesBytes(storage);
  }

  /** The record kept under `key` (`undefined` if read and absent), or {@link NOT_KEPT}. */
  peek<T>(key: string): T | undefined | typeof NOT_KEPT {
    const kept = this.#objects.get(key);
    if (kept === undefined) return NOT_KEPT;
    return kept === ABSENT ? undefined : (kept as T);
  }

  /** The record under `key` (parsed once with `parse` and then kept), or `absent`. */
  read<T, A>(key: string, parse: (text: string) => T, absent: A): Promise<T | A> {
    const kept = this.#objects.get(key);
    if (kept !== undefined) return Promise.resolve(kept === ABSENT ? absent : (kept as T));
    return this.#load(key, parse, absent);
  }

  async #load<T, A>(key: string, parse: (text: string) => T, absent: A): Promise<T | A> {
    const text = await this.#storage.get(key);
    return this.#keep(key, text === undefined ? ABSENT : parse(text), absent);
  }

  /** Keeps what was read (unless a unit wrote the key meanwhile: what it wrote wins). */
  #keep<T, A>(key: string, value: unknown, absent: A): T | A {
    if (!this.#objects.has(key)) this.#remember(key, value);
    const kept = this.#objects.get(key);
    return kept === ABSENT ? absent : (kept as T);
  }

  /**
   * Keeps `value` under `key`; written when the running unit commits if `inUnit` (and one is
   * running), else now.
   */
  write<T>(key: string, value: T, serialize: (value: T) => string, inUnit: boolean): Promise<void> {
    return this.#put(key, value, serialize as Encode, inUnit);
  }

  /**
   * A libsignal record under `key`: its bytes where the storage takes bytes, else (and when
   * an earlier version wrote it) the JSON string of its base64 text.
   */
  readRecord<T, A>(
    key: string,
    deserialize: (bytes: Uint8Array<ArrayBuffer>) => T,
    what: string,
    absent: A,
  ): Promise<T | A> {
    const kept = this.#objects.get(key);
    if (kept !== undefined) return Promise.resolve(kept === ABSENT ? absent : (kept as T));
    return this.#loadEither(
      key,
      deserialize,
      (text) => deserialize(decodeRecord(text, what)),
      absent,
    );
  }

  /** {@link readRecord} of a record that must be there: else the rejection is `missing()`. */
  readRequired<T>(
    key: string,
    deserialize: (bytes: Uint8Array<ArrayBuffer>) => T,
    what: string,
    missing: () => Error,
  ): Promise<T> {
    const kept = this.#objects.get(key);
    if (kept !== undefined && kept !== ABSENT) return Promise.resolve(kept as T);
    return this.readRecord(key, deserialize, what, undefined).then((record) => {
      if (record === undefined) throw missing();
      return record;
    });
  }

  /**
   * The record under `key`, stored as bytes (read with `fromBytes`) where the storage takes
   * them, else as text (`fromText`; also what earlier versions wrote).
   */
  readEither<T, A>(
    key: string,
    fromBytes: (bytes: Uint8Array<ArrayBuffer>) => T,
    fromText: (text: string) => T,
    absent: A,
  ): Promise<T | A> {
    const kept = this.#objects.get(key);
    if (kept !== undefined) return Promise.resolve(kept === ABSENT ? absent : (kept as T));
    return this.#loadEither(key, fromBytes, fromText, absent);
  }

  /** One storage read where the storage offers `getValue` (a missing key costs one read). */
  async #loadEither<T, A>(
    key: string,
    fromBytes: (bytes: Uint8Array<ArrayBuffer>) => T,
    fromText: (text: string) => T,
    absent: A,
  ): Promise<T | A> {
    if (!this.#bytes) return this.#load(key, fromText, absent);
    const value = this.#storage.getValue
      ? await this.#storage.getValue(key)
      : ((await this.#storage.getBytes!(key)) ?? (await this.#storage.get(key)));
    if (value === undefined) return this.#keep(key, ABSENT, absent);
    if (typeof value === 'string') return this.#keep(key, fromText(value), absent);
    return this.#keep(key, fromBytes(new Uint8Array(value)), absent);
  }

  /** Keeps libsignal `record` under `key` and writes its bytes (or base64 text), as {@link write}. */
  writeRecord<T extends BinaryRecord>(key: string, record: T, inUnit: boolean): Promise<void> {
    return this.#put(key, record, this.#bytes ? binaryRecord : textRecord, inUnit);
  }

  /** Keeps `value` under `key`, written as `toBytes` where the storage takes bytes, else `toText`. */
  writeEither<T>(
    key: string,
    value: T,
    toBytes: (value: T) => Uint8Array,
    toText: (value: T) => string,
    inUnit: boolean,
  ): Promise<void> {
    return this.#put(key, value, (this.#bytes ? toBytes : toText) as Encode, inUnit);
  }

  remove(key: string, inUnit: boolean): Promise<void> {
    return this.#put(key, ABSENT, binaryRecord, inUnit);
  }

  /**
   * Forgets every kept record: the next reads come from storage (written other than through
   * here). Keys written by a running unit are kept until it commits.
   */
  forget(): void {
    for (const key of this.#objects.keys()) {
      if (!this.#running?.has(key)) this.#objects.delete(key);
    }
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
    return this.unitWith(work, undefined);
  }

  /** {@link unit} of `work(arg)`: no closure is made for a unit that need not wait. */
  unitWith<S, T>(work: (arg: S) => Promise<T>, arg: S): Promise<T> {
    const idle = this.#pending === 0;
    this.#pending += 1;
    // The chain is the last unit's own promise (settled or not): no promise made per unit.
    let run: Promise<T>;
    if (idle) {
      run = this.#run(work, arg);
    } else {
      const go = (): Promise<T> => this.#run(work, arg);
      run = this.#chain.then(go, go);
    }
    this.#chain = run;
    return run;
  }

  async #run<S, T>(work: (arg: S) => Promise<T>, arg: S): Promise<T> {
    const batch = this.#batch;
    this.#running = batch;
    try {
      const result = await work(arg);
      await this.#commit(batch);
      return result;
    } catch (err) {
      this.#forgetUnit(batch);
      throw err;
    } finally {
      this.#end(batch);
    }
  }

  /** What a failed unit changed is forgotten, so the next read sees storage's state again. */
  #forgetUnit(batch: Batch): void {
    for (const key of batch.keys()) this.#objects.delete(key);
  }

  #end(batch: Batch): void {
    this.#running = undefined;
    batch.clear();
    this.#pending -= 1;
  }

  #put(key: string, value: unknown, encode: Encode, inUnit: boolean): Promise<void> {
    this.#remember(key, value);
    const batch = inUnit ? this.#running : undefined;
    if (batch) {
      batch.set(key, encode);
      return DONE;
    }
    return this.#writeNow(key, encode);
  }

  async #writeNow(key: string, encode: Encode): Promise<void> {
    try {
      await this.#commit(new Map([[key, encode]]));
    } catch (err) {
      this.#objects.delete(key);
      throw err;
    }
  }

  /**
   * Writes `batch` (a storage `batch` when there is one), encoding the values kept now; a
   * record failing to serialise throws.
   */
  #commit(batch: Batch): Promise<void> {
    if (batch.size === 0) return DONE;
    const writes = this.#encodeAll(batch);
    if (this.#storage.batch) return this.#storage.batch(writes);
    return this.#writeEach(writes);
  }

  #encodeAll(batch: Batch): StorageWrite[] {
    const writes: StorageWrite[] = [];
    for (const [key, encode] of batch) writes.push(this.#stored(key, encode));
    return writes;
  }

  #stored(key: string, encode: Encode): StorageWrite {
    const value = this.#objects.get(key);
    if (value === ABSENT) return { key, value: undefined };
    return { key, value: encode(value as never), secret: true };
  }

  async #writeEach(writes: readonly StorageWrite[]): Promise<void> {
    for (const w of writes) {
      const options = { secret: w.secret === true };
      if (w.value === undefined) await this.#storage.delete(w.key);
      else if (typeof w.value === 'string') await this.#storage.set(w.key, w.value, options);
      else await this.#storage.setBytes!(w.key, w.value, options);
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

function binaryRecord(record: BinaryRecord): Uint8Array {
  return record.serialize();
}

/** A JSON string of base64 text: the alphabet needs no escaping, so no JSON.stringify scan. */
function textRecord(record: BinaryRecord): string {
  return `"${toBase64(record.serialize())}"`;
}

/** The bytes of a record stored as text (the JSON string of its base64). */
function decodeRecord(text: string, what: string): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64(parseJson<string>(text));
  if (!bytes) throw new SwitchboardError('storage-failed', `stored ${what} is corrupt`);
  return bytes;
}

/**
 * Copies the value under `key` from `from` to `to` (secret): bytes stay bytes where `to` takes
 * them, else they are written as the text form of a record.
 */
export async function copyStored(
  from: KeyValueStorage,
  to: KeyValueStorage,
  key: string,
): Promise<void> {
  const text = await from.get(key);
  if (text !== undefined) return to.set(key, text, { secret: true });
  const bytes = await from.getBytes?.(key);
  if (bytes === undefined) return;
  if (storesBytes(to)) return to.setBytes!(key, bytes, { secret: true });
  return to.set(key, textRecord({ serialize: () => bytes }), { secret: true });
}

/** JSON text of a stored record, refused clearly when corrupt. */
export function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new SwitchboardError('storage-failed', 'a stored record is not valid JSON', { cause });
  }
}
