import fc from 'fast-check';
import { CharterError, canonicalize, parseStrictJson } from '../src/index.js';

// JSON values as this format allows them: safe integers, well-formed strings, no -0.
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc
      .integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })
      .filter((n) => !Object.is(n, -0)),
    fc.string({ unit: 'binary' }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary' }), tie('v'), { maxKeys: 5 }),
  ),
})).v;

describe('canonical JSON properties', () => {
  test('canonical text parses back to the same value and is a fixed point', () => {
    fc.assert(
      fc.property(value, (v) => {
        const c = canonicalize(v);
        const back = parseStrictJson(c);
        expect(back).toEqual(v);
        expect(canonicalize(back)).toBe(c);
        expect(JSON.parse(c)).toEqual(v);
      }),
    );
  });

  test('whitespace and member order do not change the canonical form', () => {
    fc.assert(
      fc.property(value, fc.constantFrom(0, 1, 2, '\t'), (v, indent) => {
        const reordered = JSON.stringify(
          v,
          (_k, x: unknown) =>
            x !== null && typeof x === 'object' && !Array.isArray(x)
              ? Object.fromEntries(Object.entries(x).reverse())
              : x,
          indent,
        );
        expect(canonicalize(parseStrictJson(reordered))).toBe(canonicalize(v));
      }),
    );
  });

  test('the strict parser never crashes: it returns a value or throws a CharterError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          parseStrictJson(text);
        } catch (err) {
          expect(err).toBeInstanceOf(CharterError);
        }
      }),
    );
  });

  test('every proper prefix of a canonical document is refused', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value, { minKeys: 1, maxKeys: 4 }), (v) => {
        const c = canonicalize(v);
        for (let n = 0; n < c.length; n += 1) {
          expect(() => parseStrictJson(c.slice(0, n))).toThrow(CharterError);
        }
      }),
      { numRuns: 50 },
    );
  });
});
