import { encodeName } from '@switchboard/dns-wire';
import fc from 'fast-check';
import { NAME_HASH_START, NameIndex, nameHashStep } from '../src/zone/name-index.js';

function lookup<T>(index: NameIndex<T>, name: string): T | undefined {
  const wire = encodeName(name);
  let hash = NAME_HASH_START;
  for (const octet of wire) hash = nameHashStep(hash, octet);
  return index.get(wire, wire.length, hash);
}

describe('NameIndex', () => {
  const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
  const name = fc.array(label, { minLength: 0, maxLength: 8 }).map((ls) => ls.join('.') + '.');

  it('finds exactly the names it holds, by wire form', () => {
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 200 }), fc.array(name), (held, others) => {
        const index = new NameIndex(new Map(held.map((n, i) => [n === '.' ? '.' : n, i])));
        expect(index.size).toBe(held.length);
        held.forEach((n, i) => expect(lookup(index, n)).toBe(i));
        for (const n of others) {
          if (!held.includes(n)) expect(lookup(index, n)).toBeUndefined();
        }
      }),
    );
  });

  it('tells apart names that differ only in label boundaries, length or one octet', () => {
    const index = new NameIndex(
      new Map([
        ['ab.c.', 1],
        ['1.2.3.e164.switchboard.test.', 2],
      ]),
    );
    expect(lookup(index, 'ab.c.')).toBe(1);
    expect(lookup(index, 'a.bc.')).toBeUndefined();
    expect(lookup(index, 'ab.c.d.')).toBeUndefined();
    expect(lookup(index, '1.2.3.e164.switchboard.test.')).toBe(2);
    expect(lookup(index, '1.2.4.e164.switchboard.test.')).toBeUndefined();
    expect(lookup(index, '2.3.e164.switchboard.test.')).toBeUndefined();
  });

  it('holds many digit names (the directory tree) without losing any', () => {
    const names = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const digits = String(14155550000 + i * 7)
        .split('')
        .reverse()
        .join('.');
      names.set(`${digits}.e164.switchboard.test.`, i);
    }
    const index = new NameIndex(names);
    for (const [n, i] of names) expect(lookup(index, n)).toBe(i);
    expect(lookup(index, '1.e164.switchboard.test.')).toBeUndefined();
  });

  it('refuses names that are not valid in wire form, as encodeName does', () => {
    expect(() => new NameIndex(new Map([['a..b.', 1]]))).toThrow();
    expect(() => new NameIndex(new Map([[`${'x'.repeat(64)}.`, 1]]))).toThrow();
  });
});
