/**
 * One write of a batch: `value` undefined deletes the key. A `Uint8Array` value is a binary
 * one, handed only to a storage with {@link KeyValueStorage.getBytes}.
 */
export interface StorageWrite {
  readonly key: string;
  readonly value: string | Uint8Array | undefined;
  readonly secret?: boolean;
}

/**
 * Injected key/value storage. Keys are short ASCII paths such as `session/+15550100.1`;
 * values are JSON text, or bytes where the storage offers them. `secret: true` marks values
 * holding private key material so a persistent backend can protect them (the Node file backend
 * writes them 0600).
 */
export interface KeyValueStorage {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: { readonly secret?: boolean }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, in no particular order. */
  list(prefix: string): Promise<string[]>;
  /**
   * Writes all of `writes` or none of them, even across a crash (a transaction). Optional:
   * without it, the SDK writes them one by one.
   */
  batch?(writes: readonly StorageWrite[]): Promise<void>;
  /**
   * Optional binary values, offered together with {@link setBytes}: the SDK then keeps libsignal
   * records as their bytes (no base64 text made for every message), written by `batch` (a
   * `Uint8Array` value) or `setBytes` and read here; records an earlier version wrote as text
   * are still read with `get`. A key holds text or bytes; `delete` removes either, `list` names
   * both. The storage owns the arrays it is given (the SDK never changes them afterwards).
   */
  getBytes?(key: string): Promise<Uint8Array | undefined>;
  setBytes?(key: string, value: Uint8Array, options?: { readonly secret?: boolean }): Promise<void>;
  /**
   * Optional, with the bytes methods: what `key` holds, text or bytes, in one read (a key not
   * there yet, as most are for a new contact, then costs one read instead of two).
   */
  getValue?(key: string): Promise<string | Uint8Array | undefined>;
}

/** Whether `storage` takes binary values (both {@link KeyValueStorage.getBytes} and `setBytes`). */
export function storesBytes(storage: KeyValueStorage): boolean {
  return storage.getBytes !== undefined && storage.setBytes !== undefined;
}

/** Volatile storage for tests and short-lived tools; takes bytes as well as text. */
export class MemoryStorage implements KeyValueStorage {
  readonly #data = new Map<string, string | Uint8Array>();

  async get(key: string): Promise<string | undefined> {
    const value = this.#data.get(key);
    return typeof value === 'string' ? value : undefined;
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    const value = this.#data.get(key);
    return typeof value === 'string' ? undefined : value;
  }

  getValue(key: string): Promise<string | Uint8Array | undefined> {
    return Promise.resolve(this.#data.get(key));
  }

  async set(key: string, value: string): Promise<void> {
    this.#data.set(key, value);
  }

  async setBytes(key: string, value: Uint8Array): Promise<void> {
    this.#data.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#data.keys()].filter((k) => k.startsWith(prefix));
  }

  batch(writes: readonly StorageWrite[]): Promise<void> {
    for (const w of writes) {
      if (w.value === undefined) this.#data.delete(w.key);
      else this.#data.set(w.key, w.value);
    }
    return Promise.resolve();
  }
}
