// The validator gets hostile responses from the network: whatever is changed, it answers with a
// result (never throws), and a changed signed record is never reported secure.
import fc from 'fast-check';
import { RRType, decodeMessage, encodeMessage } from '@switchboard/dns-wire';
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import { validateResponse } from '../src/index.js';
import {
  NOW,
  NUMBER,
  answer,
  compactNxdomain,
  makeZone,
  naptr,
  whiteLieNxdomain,
} from './test-zone.js';

const zone = makeZone(13);
const bases: Array<[Message, number]> = [
  [answer(zone, NUMBER, [naptr(NUMBER), naptr(NUMBER, 'E2U+xmpp')]), RRType.NAPTR],
  [compactNxdomain(zone, NUMBER, RRType.NAPTR), RRType.NAPTR],
  [whiteLieNxdomain(zone, NUMBER, RRType.NAPTR), RRType.NAPTR],
];

describe('validator under mutation', () => {
  it('random byte flips of real responses: a result every time, never secure if bytes changed', () => {
    fc.assert(
      fc.property(
        fc.nat(bases.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        (which, flips) => {
          const [msg, qtype] = bases[which] as [Message, number];
          const bytes = encodeMessage(msg);
          const mutated = bytes.slice();
          for (const [pos, v] of flips) mutated[12 + (pos % (bytes.length - 12))] = v;
          let decoded: Message;
          try {
            decoded = decodeMessage(mutated);
          } catch {
            return;
          }
          const result = validateResponse({
            trustAnchor: zone.anchor,
            dnskeyRrset: zone.dnskeyRrset,
            response: decoded,
            qname: NUMBER,
            qtype,
            now: NOW,
          });
          expect(['secure', 'secure-denial', 'bogus']).toContain(result.status);
          // Same wire form as the original (e.g. a flip in a compression-equivalent spot or in a
          // TTL) may still validate; changed rdata of the answer must not.
          if (result.status === 'secure') {
            const same = (a: readonly ResourceRecord[], b: readonly ResourceRecord[]): boolean =>
              JSON.stringify(a.map((r) => [r.name.toLowerCase(), r.type, r.data])) ===
              JSON.stringify(b.map((r) => [r.name.toLowerCase(), r.type, r.data]));
            expect(
              same(
                result.rrset,
                msg.answers.filter((r) => r.type === qtype),
              ),
            ).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('hand-made garbage names are bogus (malformed-input), not exceptions', () => {
    const [msg] = bases[0] as [Message, number];
    const bad = { ...msg, answers: [{ ...(msg.answers[0] as ResourceRecord), name: 'a..b.' }] };
    const r = validateResponse({
      trustAnchor: zone.anchor,
      dnskeyRrset: zone.dnskeyRrset,
      response: bad,
      qname: 'x'.repeat(70) + '.',
      qtype: RRType.NAPTR,
      now: NOW,
    });
    expect(r).toMatchObject({ status: 'bogus', reason: 'malformed-input' });
  });
});
