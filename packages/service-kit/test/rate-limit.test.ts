import { RateLimiter } from '../src/index.js';

describe('RateLimiter', () => {
  it('allows capacity events, then refuses with a Retry-After that refills exactly one token', () => {
    let now = 0;
    const limiter = new RateLimiter({ capacity: 3, perSeconds: 60 }, { now: () => now });
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true]);
    const refused = limiter.take('a');
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 20 });
    expect(limiter.take('b').allowed).toBe(true);
    now += 20_000;
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('keeps memory bounded under a flood of distinct keys', () => {
    const limiter = new RateLimiter({ capacity: 1, perSeconds: 60 }, { now: () => 0, maxKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c');
    // 'a' was evicted and comes back with a full bucket; 'c' is still spent.
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('c').allowed).toBe(false);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new RateLimiter({ capacity: 0, perSeconds: 1 })).toThrow(RangeError);
  });
});
