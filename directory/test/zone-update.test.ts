import { encodeRecord } from '@switchboard/dns-wire';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import fc from 'fast-check';
import type { NumberEntry } from '../src/zone/records.js';
import type { ZoneSnapshot } from '../src/zone/zone.js';
import {
  buildZone,
  defaultZoneSettings,
  eachNode,
  entrySerialAt,
  expectedCount,
  nodeAt,
  updateZone,
} from '../src/zone/zone.js';
import { entry } from './helpers.js';

const APEX = 'e164.switchboard.test.';
const NUMBERS = Array.from({ length: 12 }, (_, i) => `+1415555${String(2670 + i)}`);

const hex = (rr: Uint8Array): string => Buffer.from(rr).toString('hex');

/** The numbers' records of a snapshot in wire form (as transferred), as hex. */
function numberRecords(zone: ZoneSnapshot): Set<string> {
  const out = new Set<string>();
  for (const [name, node] of eachNode(zone)) {
    if (name === APEX) continue;
    for (const rrset of node.values()) for (const rr of rrset) out.add(hex(encodeRecord(rr)));
  }
  return out;
}

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

  it('gives what building the whole zone gives, and its journal the differences, after any sequence of changes', () => {
    // `removed`: as the store gives it, the numbers deleted since (or none: then the list).
    const step = fc.array(
      fc.record({
        number: fc.constantFrom(...NUMBERS),
        action: fc.constantFrom('put', 'delete'),
      }),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (steps, tellRemovals) => {
          let serial = 1;
          const held = new Map<string, NumberEntry>([[NUMBERS[0]!, version(NUMBERS[0]!, 1)]]);
          let zone = buildZone(settings, serial, [...held.values()], [key.dnskey]);
          // Every version's records, for the IXFR journal's differences from each.
          const records = new Map([[serial, numberRecords(zone)]]);
          for (const changes of steps) {
            serial += 1;
            const before = new Set(held.keys());
            const changed: NumberEntry[] = [];
            for (const c of changes) {
              if (c.action === 'delete') held.delete(c.number);
              else held.set(c.number, version(c.number, serial));
            }
            for (const e of held.values()) if (e.serial === serial) changed.push(e);
            const numbers = [...held.keys()] as E164Number[];
            const removed = [...before].filter((n) => !held.has(n)) as E164Number[];
            const told = tellRemovals ? removed : [];
            // As the store gives it: the list of numbers only when the count does not add up.
            const untold = numbers.length !== expectedCount(zone, changed, told);
            expect(untold).toBe(!tellRemovals && removed.length > 0);
            const next = updateZone(
              zone,
              serial,
              untold ? numbers : undefined,
              changed,
              [key.dnskey],
              told,
            );
            const whole = buildZone(settings, serial, [...held.values()], [key.dnskey]);
            const nodesOf = (z: ZoneSnapshot): Map<string, unknown> => new Map(eachNode(z));
            expect(nodesOf(next)).toEqual(nodesOf(whole));
            expect(next.image.count).toBe(whole.image.count);
            for (const number of NUMBERS) {
              const name = enumNameFor(number, APEX);
              expect(entrySerialAt(next, name)).toBe(entrySerialAt(whole, name));
              expect(nodeAt(next, name)).toEqual(nodeAt(whole, name));
              expect(nodeAt(next, name) !== undefined).toBe(held.has(number));
            }
            // The journal gives, from every earlier version, the whole versions' difference.
            const now = numberRecords(whole);
            for (const [from, then] of records) {
              const diff = next.image.journal(from, serial);
              expect({
                deleted: diff?.deleted.map(hex).sort(),
                added: diff?.added.map(hex).sort(),
              }).toEqual({
                deleted: [...then].filter((r) => !now.has(r)).sort(),
                added: [...now].filter((r) => !then.has(r)).sort(),
              });
            }
            records.set(serial, now);
            expect(next.answers.serves(next)).toBe(true);
            expect(next.answers.serves(zone)).toBe(false);
            zone = next;
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});
