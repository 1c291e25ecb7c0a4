import { encodeName } from '@switchboard/dns-wire';
import fc from 'fast-check';
import type { FoundAnswer } from '../src/zone/answer-cache.js';
import { AnswerCache, NEVER } from '../src/zone/answer-cache.js';
import { nameHash } from '../src/zone/name-index.js';
import type { ZoneSnapshot } from '../src/zone/zone.js';

const zoneA = {} as ZoneSnapshot;
const zoneB = {} as ZoneSnapshot;

function find(
  cache: AnswerCache,
  name: string,
  qtype: number,
  dnssec: boolean,
  now = 0,
): number[] | undefined {
  const wire = encodeName(name);
  const found: FoundAnswer = { bytes: new Uint8Array(0), start: 0, length: 0 };
  if (!cache.find(wire, wire.length, nameHash(wire), qtype, dnssec, now, found)) return undefined;
  return [...found.bytes.subarray(found.start, found.start + found.length)];
}

function put(
  cache: AnswerCache,
  name: string,
  qtype: number,
  dnssec: boolean,
  bytes: number[],
  renewAt = NEVER,
): void {
  const wire = encodeName(name);
  cache.put(wire, wire.length, nameHash(wire), qtype, dnssec, renewAt, new Uint8Array(bytes));
}

describe('AnswerCache', () => {
  it('keeps answers by name, type and DNSSEC flag, and replaces them', () => {
    const cache = new AnswerCache();
    cache.handOver(zoneA, []);
    put(cache, '1.2.e164.test.', 35, true, [1, 2, 3]);
    put(cache, '1.2.e164.test.', 35, false, [4]);
    put(cache, '1.2.e164.test.', 16, true, [5, 6]);
    expect(find(cache, '1.2.e164.test.', 35, true)).toEqual([1, 2, 3]);
    expect(find(cache, '1.2.e164.test.', 35, false)).toEqual([4]);
    expect(find(cache, '1.2.e164.test.', 16, true)).toEqual([5, 6]);
    expect(find(cache, '1.2.e164.test.', 16, false)).toBeUndefined();
    expect(find(cache, '2.1.e164.test.', 35, true)).toBeUndefined();
    put(cache, '1.2.e164.test.', 35, true, [9, 9]);
    expect(find(cache, '1.2.e164.test.', 35, true)).toEqual([9, 9]);
    expect(find(cache, '1.2.e164.test.', 35, false)).toEqual([4]);
  });

  it('misses an answer once it is due for renewal', () => {
    const cache = new AnswerCache();
    put(cache, 'a.test.', 35, true, [1], 1000);
    expect(find(cache, 'a.test.', 35, true, 999)).toEqual([1]);
    expect(find(cache, 'a.test.', 35, true, 1000)).toBeUndefined();
  });

  it('forgets changed names when handed to the next snapshot, and serves only that one', () => {
    const cache = new AnswerCache();
    cache.handOver(zoneA, []);
    put(cache, 'a.test.', 35, true, [1]);
    put(cache, 'b.test.', 35, true, [2]);
    expect(cache.serves(zoneA)).toBe(true);
    cache.handOver(zoneB, [encodeName('a.test.'), encodeName('never.test.')]);
    expect(cache.serves(zoneA)).toBe(false);
    expect(cache.serves(zoneB)).toBe(true);
    expect(find(cache, 'a.test.', 35, true)).toBeUndefined();
    expect(find(cache, 'b.test.', 35, true)).toEqual([2]);
    put(cache, 'a.test.', 35, true, [3]);
    expect(find(cache, 'a.test.', 35, true)).toEqual([3]);
  });

  it.each([
    ['while evicting', 300, 80, 600, 8192, 1 << 16, 60],
    ['while the slots grow step by step', 3000, 16, 3000, 1 << 15, 16, 8],
  ])(
    'never answers wrongly, and answers what was put last unless evicted since (%s)',
    (_, names, maxLength, opCount, cap, moveStep, numRuns) => {
      const name = fc.integer({ min: 0, max: names }).map((n) => `${n}.x${n % 7}.test.`);
      const key = fc.record({
        name,
        qtype: fc.constantFrom(35, 16, 6),
        dnssec: fc.boolean(),
      });
      const op = fc.oneof(
        fc.record({
          kind: fc.constant('put' as const),
          key,
          bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }),
        }),
        fc.record({ kind: fc.constant('find' as const), key }),
        fc.record({ kind: fc.constant('drop' as const), names: fc.array(name, { maxLength: 5 }) }),
      );
      fc.assert(
        fc.property(fc.array(op, { minLength: opCount / 2, maxLength: opCount }), (ops) => {
          // Six answers of up to 80 octets fit a segment: nothing is too large to keep.
          const cache = new AnswerCache(cap, 1024, moveStep);
          const model = new Map<string, { bytes: number[]; evicted: number }>();
          const id = (n: string, t: number, d: boolean): string => `${n}|${t}|${d}`;
          const check = (n: string, t: number, d: boolean): void => {
            const found = find(cache, n, t, d);
            const kept = model.get(id(n, t, d));
            if (found !== undefined) expect(found).toEqual(kept?.bytes);
            else if (kept) expect(cache.evicted).toBeGreaterThan(kept.evicted);
          };
          for (const o of ops) {
            const k = o.kind === 'drop' ? undefined : o.key;
            if (o.kind === 'put' && k) {
              put(cache, k.name, k.qtype, k.dnssec, o.bytes);
              model.set(id(k.name, k.qtype, k.dnssec), { bytes: o.bytes, evicted: cache.evicted });
            } else if (k) check(k.name, k.qtype, k.dnssec);
            else if (o.kind === 'drop') {
              cache.handOver(zoneA, o.names.map(encodeName));
              for (const n of o.names)
                for (const m of [...model.keys()]) if (m.startsWith(`${n}|`)) model.delete(m);
            }
            expect(cache.allocated).toBeLessThanOrEqual(cap);
          }
          for (let n = 0; n <= names; n++)
            for (const t of [35, 16, 6])
              for (const d of [true, false]) check(`${n}.x${n % 7}.test.`, t, d);
        }),
        { numRuns },
      );
    },
  );

  it('evicts the oldest segment first, and only its entries', () => {
    // Entries of 64 octets (name "nXX.test." of 10 octets, answer of 39), four per segment.
    const cache = new AnswerCache(1024, 256);
    const answer = Array.from({ length: 39 }, (_, i) => i);
    const name = (i: number): string => `n${String(i).padStart(2, '0')}.test.`;
    const present = (): number[] => {
      const found: number[] = [];
      for (let i = 0; i < 40; i++) if (find(cache, name(i), 35, true)) found.push(i);
      return found;
    };
    for (let i = 0; i < 16; i++) put(cache, name(i), 35, true, answer);
    expect(present()).toEqual([...Array(16).keys()]);
    expect(cache.allocated).toBe(1024);
    expect(cache.evicted).toBe(0);
    put(cache, name(16), 35, true, answer);
    expect(present()).toEqual([...Array(17).keys()].slice(4));
    expect(cache.evicted).toBe(4);
    // A rewritten entry moves to the head; its old octets are garbage, skipped when evicted.
    put(cache, name(5), 35, true, answer);
    for (let i = 17; i < 20; i++) put(cache, name(i), 35, true, answer);
    expect(present()).toEqual([5, ...[...Array(20).keys()].slice(8)]);
    expect(cache.evicted).toBe(7);
    expect(cache.allocated).toBe(1024);
  });

  it('never allocates more than the cap, and takes at least two segments', () => {
    const cache = new AnswerCache(1000, 256);
    expect(cache.segmentBytes).toBe(256);
    const small = new AnswerCache(300, 1 << 20);
    expect(small.segmentBytes).toBe(128);
    for (let i = 0; i < 500; i++) {
      put(cache, `${i}.test.`, 35, true, [i & 0xff, 1, 2, 3, 4, 5, 6]);
      put(small, `${i}.test.`, 35, true, [i & 0xff]);
      expect(cache.allocated).toBeLessThanOrEqual(1000);
      expect(small.allocated).toBeLessThanOrEqual(300);
    }
    expect(cache.allocated).toBe(768);
    expect(find(cache, '499.test.', 35, true)).toEqual([499 & 0xff, 1, 2, 3, 4, 5, 6]);
  });

  it('drops a name whose entry would not fit a segment, rather than keep an older answer', () => {
    const cache = new AnswerCache(1024, 256);
    put(cache, 'a.test.', 35, true, [1]);
    put(
      cache,
      'a.test.',
      35,
      true,
      Array.from({ length: 300 }, () => 7),
    );
    expect(find(cache, 'a.test.', 35, true)).toBeUndefined();
    expect(cache.live).toBe(0);
  });

  it('lets background puts (under hasRoom) fill three quarters and never evict', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            background: fc.boolean(),
            n: fc.integer({ min: 0, max: 400 }),
            qtype: fc.constantFrom(35, 16),
            length: fc.integer({ min: 0, max: 120 }),
          }),
          { maxLength: 500 },
        ),
        (ops) => {
          const cache = new AnswerCache(4096, 512);
          for (const o of ops) {
            const bytes = Array.from({ length: o.length }, () => o.n & 0xff);
            const name = `${o.n}.test.`;
            if (!o.background) put(cache, name, o.qtype, true, bytes);
            else if (cache.hasRoom(o.length + 2 * (name.length + 1))) {
              const evicted = cache.evicted;
              put(cache, name, o.qtype, true, bytes);
              expect(cache.evicted).toBe(evicted);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
    const cache = new AnswerCache(4096, 512);
    for (let i = 0; i < 1000; i++) {
      if (cache.hasRoom(60)) put(cache, `${i}.test.`, 35, true, [1, 2, 3]);
    }
    expect(cache.evicted).toBe(0);
    expect(cache.live).toBeLessThanOrEqual(3072);
    expect(cache.live).toBeGreaterThan(2048);
  });
});
