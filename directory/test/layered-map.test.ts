import fc from 'fast-check';
import { LayeredMap, REMOVED } from '../src/zone/layered-map.js';

describe('LayeredMap', () => {
  it('behaves as an immutable map through any versions, folding its layer as it grows', () => {
    const change = fc.tuple(
      fc.integer({ min: 0, max: 3000 }),
      fc.option(fc.integer(), { nil: undefined }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(change, { maxLength: 700 }), { maxLength: 8 }), (versions) => {
        let map = LayeredMap.of(
          new Map<number, number>([
            [1, 1],
            [2, 2],
          ]),
        );
        let model = new Map<number, number>([
          [1, 1],
          [2, 2],
        ]);
        const history: Array<[LayeredMap<number, number>, Map<number, number>]> = [];
        for (const changes of versions) {
          history.push([map, model]);
          map = map.with(changes.map(([k, v]) => [k, v === undefined ? REMOVED : v] as const));
          model = new Map(model);
          for (const [k, v] of changes) {
            if (v === undefined) model.delete(k);
            else model.set(k, v);
          }
        }
        history.push([map, model]);
        for (const [m, want] of history) {
          expect(m.size).toBe(want.size);
          expect(new Map([...m].sort((a, b) => a[0] - b[0]))).toEqual(
            new Map([...want].sort((a, b) => a[0] - b[0])),
          );
          for (let k = 0; k <= 3000; k += 37) {
            expect(m.get(k)).toBe(want.get(k));
            expect(m.has(k)).toBe(want.has(k));
          }
          expect([...m.keys()].length).toBe(want.size);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('keeps the base while the layer is small, and folds it once large', () => {
    const base = new Map(Array.from({ length: 20_000 }, (_, i) => [i, i] as const));
    const v1 = LayeredMap.of(base);
    const v2 = v1.with([
      [5, -5],
      [20_001, 1],
      [7, REMOVED],
    ]);
    expect(v2.base).toBe(base);
    expect(v2.layer.size).toBe(3);
    expect(v2.size).toBe(20_000);
    const many = Array.from({ length: 3000 }, (_, i) => [i, -i] as const);
    const v3 = v2.with(many);
    expect(v3.base).not.toBe(base);
    expect(v3.layer.size).toBe(0);
    expect(v3.get(7)).toBe(-7);
    expect(v3.get(20_001)).toBe(1);
    expect(v2.get(7)).toBeUndefined(); // earlier versions unchanged
  });
});
