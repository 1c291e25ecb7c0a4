import { encodeName } from '@switchboard/dns-wire';
import fc from 'fast-check';
import { NAME_HASH_START, nameHash, nameHashStep, wireName } from '../src/zone/name-index.js';

describe('name hashing and wire names', () => {
  const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
  const name = fc.array(label, { minLength: 0, maxLength: 8 }).map((ls) => ls.join('.') + '.');

  it('writes plain names as encodeName does, and hashes them octet by octet', () => {
    fc.assert(
      fc.property(name, (n) => {
        const wire = wireName(n);
        expect(wire).toEqual(encodeName(n));
        let hash = NAME_HASH_START;
        for (const octet of wire) hash = nameHashStep(hash, octet);
        expect(nameHash(wire)).toBe(hash);
      }),
    );
  });

  it('refuses names that are not valid in wire form, as encodeName does', () => {
    expect(() => wireName('a..b.')).toThrow();
    expect(() => wireName(`${'x'.repeat(64)}.`)).toThrow();
  });
});
