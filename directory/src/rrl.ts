import { isIPv6 } from 'node:net';
import { RateLimiter } from '@switchboard/service-kit';

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
 * no amplification) and the rest are dropped. TCP is never limited (it cannot be spoofed).
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

/** The network prefix a client address is grouped under. */
export function clientPrefix(
  address: string,
  config: Pick<RrlConfig, 'ipv4Prefix' | 'ipv6Prefix'>,
): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped?.[1] ?? (isIPv6(address) ? undefined : address);
  if (v4 !== undefined) {
    const n = v4.split('.').reduce((acc, o) => acc * 256 + (Number(o) & 255), 0);
    const bits = Math.max(0, Math.min(32, config.ipv4Prefix));
    const masked = bits === 0 ? 0 : Math.floor(n / 2 ** (32 - bits)) * 2 ** (32 - bits);
    return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.')}/${bits}`;
  }
  const groups = expandIpv6(address);
  const bits = Math.max(0, Math.min(128, config.ipv6Prefix));
  const hex = groups.map((g) => g.padStart(4, '0')).join('');
  const keepNibbles = Math.ceil(bits / 4);
  return `${hex.slice(0, keepNibbles)}/${bits}`;
}

function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill =
    tail === undefined ? [] : new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0');
  return [...h, ...fill, ...t];
}
