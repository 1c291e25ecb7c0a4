/** One write of a batch: `value` undefined deletes the key. */
export interface StorageWrite {
  readonly key: string;
  readonly value: string | undefined;
  readonly secret?: boolean;
}

/**
 * Injected key/value storage. Keys are short ASCII paths such as `session/+15550100.1`;
 * values are JSON text. `secret: true` marks values holding private key material so a
 * persistent backend can protect them (the Node file backend writes them 0600).
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
}

/** Volatile storage for tests and short-lived tools. */
export class MemoryStorage implements KeyValueStorage {
  readonly #data = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.#data.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.#data.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#data.keys()].filter((k) => k.startsWith(prefix));
  }

  async batch(writes: readonly StorageWrite[]): Promise<void> {
    for (const w of writes) {
      if (w.value === undefined) this.#data.delete(w.key);
      else this.#data.set(w.key, w.value);
    }
  }
}
