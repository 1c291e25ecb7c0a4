import { clientPrefix, RateLimiter } from '@switchboard/service-kit';

/** Response rate limiting settings (the BIND/NSD RRL model). */
export interface RrlConfig {
  /** Identical responses per second per client prefix; 0 disables RRL. Default 20. */
  readonly responsesPerSecond: number;
  /** Every `slip`-th limited response is sent truncated instead of dropped; 0 = drop all. Default 2. */
  readonly slip: number;
  /** IPv4 prefix length clients are grouped by. Default 24. */
  readonly ipv4Prefix: number;
  /** IPv6 prefix length clients are grouped by. Default 56. */
  readonly ipv6Prefix: number;
}

export const DEFAULT_RRL: RrlConfig = {
  responsesPerSecond: 20,
  slip: 2,
  ipv4Prefix: 24,
  ipv6Prefix: 56,
};

/** What to do with one UDP response. */
export type RrlDecision = 'send' | 'slip' | 'drop';

/**
 * Response rate limiting for UDP: a token bucket per (client prefix, response identity), where
 * the identity is the query name and type for answers, and the apex plus the rcode for denials
 * and errors, so random-name floods share one bucket. Over the limit, every `slip`-th response
 * is replaced by an empty truncated one (a real client retries over TCP, a spoofed victim gets
 * no amplification) and the rest are dropped. TCP is never limited here (it cannot be spoofed);
 * signing work, over TCP too, is limited before it is done by admission.ts, which also runs
 * this limiter first for denials that need a signature.
 */
export class ResponseRateLimiter {
  readonly #config: RrlConfig;
  readonly #limiter: RateLimiter | undefined;
  readonly #slipCounters = new Map<string, number>();

  constructor(config: RrlConfig = DEFAULT_RRL, now: () => number = Date.now) {
    this.#config = config;
    this.#limiter =
      config.responsesPerSecond > 0
        ? new RateLimiter({ capacity: config.responsesPerSecond, perSeconds: 1 }, { now })
        : undefined;
  }

  /** False when RRL is off (every response is sent): callers need not make identities. */
  get enabled(): boolean {
    return this.#limiter !== undefined;
  }

  /** Decides for one response to `address` with the given identity. */
  check(address: string, identity: string): RrlDecision {
    if (!this.#limiter) return 'send';
    const key = `${clientPrefix(address, this.#config)}|${identity}`;
    if (this.#limiter.take(key).allowed) return 'send';
    if (this.#config.slip === 0) return 'drop';
    const count = (this.#slipCounters.get(key) ?? 0) + 1;
    if (this.#slipCounters.size > 100_000) this.#slipCounters.clear();
    this.#slipCounters.set(key, count % this.#config.slip);
    return count % this.#config.slip === 0 ? 'slip' : 'drop';
  }
}
