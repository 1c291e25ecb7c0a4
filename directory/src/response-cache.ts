/** One encoded reply kept for reuse, with what the server needs besides the bytes. */
export interface CachedReply {
  readonly bytes: Uint8Array;
  /** The RRL identity of the reply (rate limiting treats a cached reply like a fresh one). */
  readonly identity: string;
  readonly rcode: number;
  readonly kind: string;
}

interface Entry extends CachedReply {
  readonly storedAt: number;
}

/** Settings for a {@link ResponseCache}. */
export interface ResponseCacheConfig {
  /** Entries kept at most (least recently used go first). Default 50,000. */
  readonly maxEntries?: number;
  /**
   * How long a reply may be reused (default 60 s). Bounded so that re-signed RRsets (the
   * signer refreshes signatures days before they expire) reach clients promptly.
   */
  readonly maxAgeMs?: number;
}

/**
 * Encoded replies keyed by the query's bytes after the message ID: two queries that differ only
 * in their ID get the same reply but for the ID, whatever their flags, EDNS options, payload
 * size or name case (all part of the key, so nothing about the reply can differ). This skips
 * decoding, answering, signing-cache lookups and encoding for hot names. The cache is emptied
 * whenever the zone snapshot changes, so a published change is never hidden by it. Only plain
 * (unsigned, non-transfer) answers are stored; the caller decides that.
 */
export class ResponseCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  #generation: unknown;

  constructor(config: ResponseCacheConfig = {}) {
    this.#maxEntries = config.maxEntries ?? 50_000;
    this.#maxAgeMs = config.maxAgeMs ?? 60_000;
  }

  /** The key for a query on a transport (TCP replies are never truncated, UDP ones may be). */
  keyFor(packet: Uint8Array, transport: 'udp' | 'tcp'): string {
    return (
      transport +
      Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString('latin1', 2)
    );
  }

  /**
   * The cached reply for `key`, re-addressed to the query's ID, if one was stored for the same
   * zone `generation` (any value that changes with the zone, e.g. its snapshot) and is fresh.
   */
  get(key: string, generation: unknown, now: number, queryId: number): CachedReply | undefined {
    if (generation !== this.#generation) {
      this.#entries.clear();
      this.#generation = generation;
      return undefined;
    }
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now - entry.storedAt > this.#maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    // Refresh recency for LRU eviction.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    const bytes = Uint8Array.from(entry.bytes);
    bytes[0] = queryId >> 8;
    bytes[1] = queryId & 0xff;
    return { bytes, identity: entry.identity, rcode: entry.rcode, kind: entry.kind };
  }

  /** Stores a reply produced for `key` under zone `generation`. */
  set(key: string, generation: unknown, now: number, reply: CachedReply): void {
    if (generation !== this.#generation) {
      this.#entries.clear();
      this.#generation = generation;
    }
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { ...reply, bytes: Uint8Array.from(reply.bytes), storedAt: now });
  }

  /** Number of stored replies (for metrics and tests). */
  get size(): number {
    return this.#entries.size;
  }
}
