import { ResponseCache } from '../src/response-cache.js';

const reply = (id: number, tail: number[]) => ({
  bytes: Uint8Array.from([id >> 8, id & 0xff, ...tail]),
  identity: 'n/35',
  rcode: 0,
  kind: 'answer',
});

describe('ResponseCache', () => {
  const query = (id: number, rest: number[]) => Uint8Array.from([id >> 8, id & 0xff, ...rest]);

  it('reuses a reply for a query that differs only in its ID, re-addressed to the new ID', () => {
    const cache = new ResponseCache();
    const zone = {};
    const key = cache.keyFor(query(1, [1, 0, 0, 1, 9]), 'udp');
    cache.set(key, zone, 0, reply(1, [0x84, 0, 7, 7]));
    expect(cache.keyFor(query(0xbeef, [1, 0, 0, 1, 9]), 'udp')).toBe(key);
    const hit = cache.get(key, zone, 1, 0xbeef);
    expect(Array.from(hit!.bytes)).toEqual([0xbe, 0xef, 0x84, 0, 7, 7]);
    // The stored copy is not changed by handing one out.
    expect(Array.from(cache.get(key, zone, 1, 2)!.bytes)).toEqual([0, 2, 0x84, 0, 7, 7]);
  });

  it('keys on every byte after the ID and on the transport', () => {
    const cache = new ResponseCache();
    const a = cache.keyFor(query(1, [1, 0, 0, 1, 9]), 'udp');
    expect(cache.keyFor(query(1, [1, 0, 0, 1, 8]), 'udp')).not.toBe(a);
    expect(cache.keyFor(query(1, [1, 0x10, 0, 1, 9]), 'udp')).not.toBe(a);
    expect(cache.keyFor(query(1, [1, 0, 0, 1, 9]), 'tcp')).not.toBe(a);
  });

  it('forgets everything when the zone changes, and stale entries after maxAgeMs', () => {
    const cache = new ResponseCache({ maxAgeMs: 1000 });
    const before = {};
    const key = cache.keyFor(query(1, [5]), 'udp');
    cache.set(key, before, 0, reply(1, [1]));
    expect(cache.get(key, {}, 1, 1)).toBeUndefined();
    expect(cache.size).toBe(0);
    const zone = {};
    cache.set(key, zone, 0, reply(1, [1]));
    expect(cache.get(key, zone, 1000, 1)).toBeDefined();
    expect(cache.get(key, zone, 1001, 1)).toBeUndefined();
  });

  it('stays within maxEntries, dropping the least recently used', () => {
    const cache = new ResponseCache({ maxEntries: 2 });
    const zone = {};
    const [a, b, c] = [1, 2, 3].map((n) => cache.keyFor(query(0, [n]), 'udp')) as [
      string,
      string,
      string,
    ];
    cache.set(a, zone, 0, reply(0, [1]));
    cache.set(b, zone, 0, reply(0, [2]));
    cache.get(a, zone, 0, 0);
    cache.set(c, zone, 0, reply(0, [3]));
    expect(cache.size).toBe(2);
    expect(cache.get(b, zone, 0, 0)).toBeUndefined();
    expect(cache.get(a, zone, 0, 0)).toBeDefined();
  });
});
