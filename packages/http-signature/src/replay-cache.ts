/**
 * Remembers nonces until their signatures could no longer be accepted anyway, so each signed
 * request is accepted once. Replicas behind a load balancer need a shared implementation
 * (a database table); {@link MemoryReplayCache} is for one process.
 */
export interface ReplayCache {
  /** Records `nonce` for `keyId` until `expiresAtMs`; false if it was already recorded. */
  remember(keyId: string, nonce: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/** An in-process {@link ReplayCache}, bounded in size; entries are swept as they expire. */
export class MemoryReplayCache implements ReplayCache {
  readonly #entries = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 1_000_000;
    this.#now = options.now ?? Date.now;
  }

  remember(keyId: string, nonce: string, expiresAtMs: number): boolean {
    const key = `${keyId}\n${nonce}`;
    const now = this.#now();
    const existing = this.#entries.get(key);
    if (existing !== undefined && existing > now) return false;
    if (this.#entries.size >= this.#maxEntries) this.#sweep(now);
    if (this.#entries.size >= this.#maxEntries) {
      // Full of live nonces: refusing is safer than forgetting one that might be replayed.
      return false;
    }
    this.#entries.set(key, expiresAtMs);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiresAt] of this.#entries) if (expiresAt <= now) this.#entries.delete(key);
  }
}
