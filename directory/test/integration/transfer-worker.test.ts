// Zone transfers sign the zone on the export worker thread: DNS keeps being answered while a
// transfer's zone is being signed, concurrent transfers of one serial share one signing, IXFR
// differences still work, and a worker that dies fails the transfer (SERVFAIL) but not the server.
import { createSocket } from 'node:dgram';
import type { Message } from '@switchboard/dns-wire';
import {
  decodeMessage,
  encodeMessage,
  encodeRecord,
  parseRecord,
  Rcode,
  RRType,
} from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import type { NumberEntry } from '../../src/zone/records.js';
import { identity, query } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { tcpExchange } from './tools.js';

const NUMBERS = 10_000;
// Signing 10,000 numbers costs seconds of CPU; on a machine whose cores are busy with other work
// (the suite runs beside a CPU hog) a test's wall time is many times that. The timeouts only
// catch a hang, so they are generous: 34 s of wall time for 7 s of CPU was seen at load 12.
const TEST_TIMEOUT_MS = 300_000;
const contacts = CONTACTS as NumberEntry['contacts'];

/** An AXFR answer is complete at its second SOA, or at an error. */
const axfrDone = (messages: readonly Message[]): boolean =>
  messages.some((m) => m.rcode !== Rcode.NOERROR) ||
  messages.flatMap((m) => m.answers).filter((r) => r.type === RRType.SOA).length >= 2;

function udpQuery(port: number, message: Message): Promise<Message> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.on('message', (packet) => {
      socket.close();
      resolve(decodeMessage(packet));
    });
    socket.on('error', reject);
    socket.send(encodeMessage(message), port, '127.0.0.1');
  });
}

const hex = (rrs: Message['answers']): string[] =>
  rrs.map((r) => Buffer.from(encodeRecord(r)).toString('hex'));

describe('zone transfers signed on the export worker', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let port: number;
  const numbers = Array.from(
    { length: NUMBERS },
    (_, i) => `+4420794${String(i).padStart(5, '0')}`,
  );

  beforeAll(async () => {
    t = await startTestDirectory({
      providers: [acme],
      // An idle timeout far shorter than signing the zone takes (10,000 numbers: seconds): a
      // connection waiting for its transfer's zone is not idle and must stay open. Not shorter:
      // the test shares its process with the server, and a loaded machine can hold the event
      // loop past a 100 ms timer between a connection's accept and its first query.
      // The pre-signed NSEC3 form (an operator's opt-in) is what is signed on the worker.
      extra: {
        transferAllowFrom: ['127.0.0.1'],
        dnsTcp: { idleMs: 1000 },
        transferForm: 'presigned-nsec3',
      },
    });
    port = t.dir.dns.port;
    const identityKey = identity().publicBase64;
    // One transaction (the bulk import's), not 10,000.
    const rows = numbers.map((n) => ({
      number: n as E164Number,
      provider: acme.id,
      identityKey,
      contacts,
    }));
    const progress = { source: 'test', size: 0, offset: 0, line: 0, imported: 0, refused: 0 };
    await t.dir.store.importBatch(rows, { ...progress, refusedBytes: 0 }, Date.now() / 1000);
    await t.dir.zone.refresh();
  }, TEST_TIMEOUT_MS);
  afterAll(async () => {
    await t.close();
  });

  it(
    'answers UDP queries while an AXFR is being signed, before the AXFR completes',
    async () => {
      const events: string[] = [];
      let sent!: () => void;
      const querySent = new Promise<void>((resolve) => (sent = resolve));
      const axfr = tcpExchange(port, query(APEX, RRType.AXFR, { edns: false }), axfrDone, {
        onSent: () => sent(),
      }).then((messages) => {
        events.push('axfr');
        return messages;
      });
      await querySent;
      for (let i = 0; i < 20; i++) {
        const name = i % 2 === 0 ? APEX : numberName(numbers[i * 97] as string);
        const type = i % 2 === 0 ? RRType.SOA : RRType.NAPTR;
        const answer = await udpQuery(port, query(name, type, { id: 1000 + i }));
        expect(answer.rcode).toBe(Rcode.NOERROR);
        expect(answer.answers.length).toBeGreaterThan(0);
        events.push(`udp${i}`);
      }
      const messages = await axfr;
      // Every UDP query was answered before the transfer's last message arrived.
      expect(events.indexOf('axfr')).toBe(20);
      const records = messages.flatMap((m) => m.answers);
      expect(records[0]?.type).toBe(RRType.SOA);
      expect(records.at(-1)?.type).toBe(RRType.SOA);
      expect(records.filter((r) => r.type === RRType.NAPTR).length).toBeGreaterThanOrEqual(NUMBERS);
      expect(records.some((r) => r.type === RRType.NSEC3)).toBe(true);
      expect(messages.every((m) => m.rcode === Rcode.NOERROR && m.aa)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'signs once for concurrent transfers of one serial and serves IXFR from it',
    async () => {
      const before = t.dir.zone.snapshot.serial;
      await t.dir.store.put(
        {
          number: '+442079469999' as E164Number,
          provider: acme.id,
          identityKey: identity().publicBase64,
          contacts,
        },
        undefined,
        Date.now() / 1000,
      );
      await t.dir.zone.refresh();
      const serial = t.dir.zone.snapshot.serial;
      expect(serial).toBeGreaterThan(before);
      const [a, b] = await Promise.all([
        tcpExchange(port, query(APEX, RRType.AXFR, { edns: false, id: 1 }), axfrDone),
        tcpExchange(port, query(APEX, RRType.AXFR, { edns: false, id: 2 }), axfrDone),
      ]);
      // ECDSA signatures are randomised: identical RRSIGs mean one signing served both.
      expect(hex(a!.flatMap((m) => m.answers))).toEqual(hex(b!.flatMap((m) => m.answers)));
      expect(a![0]?.id).toBe(1);
      expect(b![0]?.id).toBe(2);

      // IXFR from the version transferred in the first test: a condensed difference.
      const ixfrQuery: Message = {
        ...query(APEX, RRType.IXFR, { edns: false, id: 3 }),
        authorities: [
          parseRecord(`${APEX} 300 IN SOA ns1.switchboard.test. h.test. ${before} 1 1 1 1`),
        ],
      };
      const ixfrDone = (messages: readonly Message[]): boolean =>
        messages.flatMap((m) => m.answers).filter((r) => r.type === RRType.SOA).length >= 4;
      const ixfr = (await tcpExchange(port, ixfrQuery, ixfrDone)).flatMap((m) => m.answers);
      const soas = ixfr.flatMap((r, i) => (r.type === RRType.SOA ? [i] : []));
      expect(soas.length).toBe(4);
      expect(soas[0]).toBe(0);
      expect(soas.at(-1)).toBe(ixfr.length - 1);
      const serialAt = (i: number): number => (ixfr[i]!.data as { serial: number }).serial;
      expect([serialAt(soas[0]!), serialAt(soas[1]!), serialAt(soas[2]!)]).toEqual([
        serial,
        before,
        serial,
      ]);
      const added = ixfr.slice(soas[2]! + 1, -1);
      expect(
        added.some((r) => r.type === RRType.NAPTR && r.name === numberName('+442079469999')),
      ).toBe(true);
      // Unchanged numbers' records are in neither part, nor their RRSIGs: the export worker keeps
      // the signatures of unchanged RRsets, so the difference is the new number, the SOA and the
      // NSEC3 records around the new names, not the whole zone's signatures again.
      const deleted = ixfr.slice(soas[1]! + 1, soas[2]!);
      const newName = numberName('+442079469999');
      const otherSigs = [...deleted, ...added].filter(
        (r) =>
          r.type === RRType.RRSIG &&
          (r.data as { typeCovered: number }).typeCovered !== RRType.NSEC3 &&
          r.name !== newName &&
          r.name !== APEX,
      );
      expect(otherSigs).toEqual([]);
      expect(ixfr.length).toBeLessThan(120);
      expect(deleted.filter((r) => r.type === RRType.NAPTR)).toEqual([]);
      expect(
        added
          .filter((r) => r.type === RRType.NAPTR)
          .every((r) => r.name === numberName('+442079469999')),
      ).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'fails a transfer whose worker dies with SERVFAIL, and keeps serving',
    async () => {
      await t.dir.store.bump();
      await t.dir.zone.refresh();
      const signer = t.dir.zone.exportSigner;
      let killed: Promise<number> | undefined;
      const axfr = tcpExchange(port, query(APEX, RRType.AXFR, { edns: false, id: 7 }), axfrDone);
      // Kill the worker while the zone is being signed on it.
      while (!killed) {
        await new Promise((resolve) => setImmediate(resolve));
        if (signer.busy > 0 && signer.worker) killed = signer.worker.terminate();
      }
      await killed;
      const failed = await axfr;
      expect(failed.length).toBe(1);
      expect(failed[0]?.rcode).toBe(Rcode.SERVFAIL);
      expect(failed[0]?.id).toBe(7);

      const soa = await udpQuery(port, query(APEX, RRType.SOA));
      expect(soa.rcode).toBe(Rcode.NOERROR);
      // The next transfer starts a new worker and succeeds.
      const again = await tcpExchange(port, query(APEX, RRType.AXFR, { edns: false }), axfrDone);
      expect(again.every((m) => m.rcode === Rcode.NOERROR)).toBe(true);
      expect(again.flatMap((m) => m.answers).at(-1)?.type).toBe(RRType.SOA);
      expect(await t.dir.exportZone()).toContain('NSEC3PARAM');
    },
    TEST_TIMEOUT_MS,
  );
});

/** The ENUM owner name of an E.164 number under the test apex. */
function numberName(number: string): string {
  return `${[...number.slice(1)].reverse().join('.')}.${APEX}`;
}
