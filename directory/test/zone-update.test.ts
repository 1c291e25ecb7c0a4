import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import { encodeName } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { nameHash } from '../src/zone/name-index.js';
import fc from 'fast-check';
import type { NumberEntry } from '../src/zone/records.js';
import { buildZone, defaultZoneSettings, expectedCount, updateZone } from '../src/zone/zone.js';
import { entry } from './helpers.js';

const APEX = 'e164.switchboard.test.';
const NUMBERS = Array.from({ length: 12 }, (_, i) => `+1415555${String(2670 + i)}`);

describe('updateZone', () => {
  const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
  const settings = defaultZoneSettings(APEX);
  // One entry object per (number, version), as the store would return them.
  const versions = new Map<string, NumberEntry>();
  const version = (number: string, serial: number): NumberEntry => {
    const k = `${number}|${serial}`;
    let e = versions.get(k);
    if (!e) versions.set(k, (e = entry(number, 'acme-telecom', serial)));
    return e;
  };

  it('gives what building the whole zone gives, after any sequence of changes', () => {
    const step = fc.array(
      fc.record({
        number: fc.constantFrom(...NUMBERS),
        action: fc.constantFrom('put', 'delete'),
      }),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), (steps) => {
        let serial = 1;
        const held = new Map<string, NumberEntry>([[NUMBERS[0]!, version(NUMBERS[0]!, 1)]]);
        let zone = buildZone(settings, serial, [...held.values()], [key.dnskey]);
        for (const changes of steps) {
          serial += 1;
          const changed: NumberEntry[] = [];
          for (const c of changes) {
            if (c.action === 'delete') held.delete(c.number);
            else held.set(c.number, version(c.number, serial));
          }
          for (const e of held.values()) if (e.serial === serial) changed.push(e);
          const numbers = [...held.keys()] as E164Number[];
          // As the store gives it: the list of numbers only when some were removed.
          const removals = numbers.length !== expectedCount(zone, changed);
          const next = updateZone(zone, serial, removals ? numbers : undefined, changed, [
            key.dnskey,
          ]);
          const whole = buildZone(settings, serial, [...held.values()], [key.dnskey]);
          expect(new Map([...next.nodes].sort())).toEqual(new Map([...whole.nodes].sort()));
          expect(new Map([...next.builtFrom].sort())).toEqual(new Map([...whole.builtFrom].sort()));
          expect(next.nodes.size).toBe(whole.nodes.size);
          for (const name of whole.nodes.keys()) {
            const wire = encodeName(name);
            expect(next.index.get(wire, wire.length, nameHash(wire))).toBe(next.nodes.get(name));
          }
          for (const gone of NUMBERS.filter((n) => !held.has(n))) {
            const wire = encodeName(enumNameFor(gone, APEX));
            expect(next.index.get(wire, wire.length, nameHash(wire))).toBeUndefined();
          }
          // Unchanged numbers keep their very RRsets (signatures are cached by identity).
          for (const [name, node] of zone.nodes) {
            if (name !== APEX && next.builtFrom.get(name) === zone.builtFrom.get(name)) {
              expect(next.nodes.get(name)).toBe(node);
            }
          }
          expect(next.answers.serves(next)).toBe(true);
          expect(next.answers.serves(zone)).toBe(false);
          zone = next;
        }
      }),
      { numRuns: 50 },
    );
  });
});
