import type { ResourceRecord } from '@switchboard/dns-wire';
import { decodeMessage, encodeRecord, parseRecord, RRType } from '@switchboard/dns-wire';
import fc from 'fast-check';
import { transferMessages } from '../src/transfer/transfer.js';
import { query } from './helpers.js';

const APEX = 'e164.switchboard.test.';

describe('transferMessages', () => {
  const label = fc.stringMatching(/^[a-z0-9]{1,8}$/);
  const owner = fc
    .array(label, { minLength: 0, maxLength: 5 })
    .map((ls) => (ls.length ? `${ls.join('.')}.${APEX}` : APEX));
  const record = fc
    .tuple(owner, fc.integer({ min: 0, max: 2 }))
    .map(([name, kind]): string =>
      kind === 0
        ? `${name} 300 IN TXT "v=sbkey1"`
        : kind === 1
          ? `${name} 300 IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:a@b!" .`
          : `${name} 300 IN NS ns1.${APEX}`,
    );

  it('packs records that decode back exactly, owner names compressed', () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 200, max: 5000 }),
        (texts, maxSize) => {
          const records = texts.map((t) => parseRecord(t));
          const wire = records.map((rr) => encodeRecord(rr));
          const q = query(APEX, RRType.AXFR, { edns: false, id: 77 });
          const messages = [...transferMessages(q, wire, maxSize)];
          const decoded = messages.map((m) => decodeMessage(m));
          expect(decoded.every((m) => m.id === 77 && m.qr && m.aa)).toBe(true);
          expect(decoded[0]!.questions).toEqual(q.questions);
          expect(decoded.slice(1).every((m) => m.questions.length === 0)).toBe(true);
          const back: ResourceRecord[] = decoded.flatMap((m) => m.answers);
          expect(back).toEqual(records);
          // Names repeat under the apex: the messages are smaller than the records they carry.
          const plain = wire.reduce((n, w) => n + w.length, 0);
          const packed = messages.reduce((n, m) => n + m.length - 12, 0);
          if (records.length > 1) expect(packed).toBeLessThan(plain);
        },
      ),
      { numRuns: 100 },
    );
  });
});
