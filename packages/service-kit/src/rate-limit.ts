/** The outcome of one {@link RateLimiter.take}. */
export type RateDecision =
  | { readonly allowed: true; readonly remaining: number }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** Settings for one limit: `capacity` events, refilled evenly over `perSeconds`. */
export interface RateLimit {
  readonly capacity: number;
  readonly perSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token-bucket limiter keyed by anything an attacker can repeat (client address, phone number
 * hash, key id). In memory and per process: replicas behind a load balancer each enforce it, so
 * the effective limit scales with replica count, which the operator accounts for in the limits.
 * The clock is injected so tests never sleep.
 *
 * @example
 * const perIp = new RateLimiter({ capacity: 5, perSeconds: 60 });
 * const d = perIp.take(req.ip);
 * if (!d.allowed) res.set('Retry-After', String(d.retryAfterSeconds)).status(429);
 */
export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;

  constructor(limit: RateLimit, options: { now?: () => number; maxKeys?: number } = {}) {
    if (!(limit.capacity > 0) || !(limit.perSeconds > 0)) {
      throw new RangeError('rate limit capacity and perSeconds must be positive');
    }
    this.#limit = limit;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Takes `cost` tokens for `key` if available. */
  take(key: string, cost = 1): RateDecision {
    const now = this.#now();
    const { capacity, perSeconds } = this.#limit;
    const ratePerMs = capacity / (perSeconds * 1000);
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.updatedAt) * ratePerMs);
      bucket.updatedAt = now;
      // Refresh recency so eviction drops the least recently used key.
      this.#buckets.delete(key);
      this.#buckets.set(key, bucket);
    } else {
      this.#evictIfFull();
      bucket = { tokens: capacity, updatedAt: now };
      this.#buckets.set(key, bucket);
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, remaining: Math.floor(bucket.tokens) };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((cost - bucket.tokens) / ratePerMs / 1000));
    return { allowed: false, retryAfterSeconds };
  }

  /** Gives back `cost` tokens taken for `key` (for example for a request found to be a repeat). */
  give(key: string, cost = 1): void {
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.#limit.capacity, bucket.tokens + cost);
  }

  /** Forgets a key (for example after a successful verification). */
  reset(key: string): void {
    this.#buckets.delete(key);
  }

  #evictIfFull(): void {
    // A flood of distinct keys must not grow memory without bound; a full bucket is the state
    // a forgotten key would be recreated in, so evicting the oldest loses at most its debt.
    while (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) return;
      this.#buckets.delete(oldest);
    }
  }
}
