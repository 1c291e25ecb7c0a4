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

  it('behaves like a map through growth, compaction and deletion (model test)', () => {
    const name = fc.integer({ min: 0, max: 300 }).map((n) => `${n}.x${n % 7}.test.`);
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('put' as const),
        name,
        qtype: fc.constantFrom(35, 16, 6),
        dnssec: fc.boolean(),
        bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 600 }),
      }),
      fc.record({ kind: fc.constant('drop' as const), names: fc.array(name, { maxLength: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const cache = new AnswerCache(64);
        const model = new Map<string, number[]>();
        const key = (n: string, t: number, d: boolean): string => `${n}|${t}|${d}`;
        for (const o of ops) {
          if (o.kind === 'put') {
            put(cache, o.name, o.qtype, o.dnssec, o.bytes);
            model.set(key(o.name, o.qtype, o.dnssec), o.bytes);
          } else {
            cache.handOver(zoneA, o.names.map(encodeName));
            for (const n of o.names)
              for (const k of [...model.keys()]) {
                if (k.startsWith(`${n}|`)) model.delete(k);
              }
          }
        }
        for (let n = 0; n <= 300; n++) {
          const nm = `${n}.x${n % 7}.test.`;
          for (const t of [35, 16, 6]) {
            for (const d of [true, false])
              expect(find(cache, nm, t, d)).toEqual(model.get(key(nm, t, d)));
          }
        }
        // Garbage is reclaimed: the arena stays within a few times the live answers.
        let live = 0;
        for (const [k, v] of model) live += k.length + v.length + 16;
        expect(cache.size).toBeLessThanOrEqual(4 * live + 4096);
      }),
      { numRuns: 60 },
    );
  });
});
