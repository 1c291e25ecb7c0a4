// The unsigned form's transfers streamed from the zone image: IXFR answered from the image's
// journal gives what the whole-version difference gave (before and after a restart), IXFR from
// before the journal gets the whole zone, and an AXFR read while changes are applied stays one
// version (its first and last SOA, and its records, those of the serial it began at).
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import { encodeRecord, parseRecord, RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { decodeWireRecords } from '../../src/transfer/wire-records.js';
import { unsignedTransfer } from '../../src/transfer/xfr-stream.js';
import type { NumberEntry } from '../../src/zone/records.js';
import { identity, query } from '../helpers.js';
import type { TestDirectory, TestProvider } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { tcpExchange } from './tools.js';

// More than loopback's socket buffers hold, so an AXFR is still being read when it stalls.
const NUMBERS = 30_000;
const TIMEOUT_MS = 300_000;
const contacts = CONTACTS as NumberEntry['contacts'];

/**
 * The records of one TCP transfer, until `soas` SOA records came (or the connection closed);
 * `onFirst` as in {@link tcpExchange}, given how many records came.
 */
async function exchange(
  port: number,
  message: Message,
  soas: number,
  onFirst?: (received: number) => Promise<void>,
): Promise<ResourceRecord[]> {
  const records = (messages: readonly Message[]): ResourceRecord[] =>
    messages.flatMap((m) => m.answers);
  const messages = await tcpExchange(port, message, (m) => soaCount(records(m)) >= soas, {
    ...(onFirst ? { onFirst: (m) => onFirst(records(m).length) } : {}),
  });
  return records(messages);
}

const soaCount = (records: readonly ResourceRecord[]): number =>
  records.filter((r) => r.type === RRType.SOA).length;
const serialOf = (rr: ResourceRecord | undefined): number =>
  (rr?.data as { serial: number }).serial;
const hex = (rr: ResourceRecord): string => Buffer.from(encodeRecord(rr)).toString('hex');

function ixfrQuery(serial: number, id: number): Message {
  return {
    ...query(APEX, RRType.IXFR, { edns: false, id }),
    authorities: [
      parseRecord(`${APEX} 300 IN SOA ns1.switchboard.test. h.test. ${serial} 1 1 1 1`),
    ],
  };
}

/** The records of the whole unsigned version now served, SOA left out, as hex. */
async function wholeVersion(t: TestDirectory): Promise<{ serial: number; records: Set<string> }> {
  const zone = await t.dir.zone.transferZone(Date.now() / 1000, 'unsigned');
  const records = decodeWireRecords(zone.records).filter((r) => r.type !== RRType.SOA);
  return { serial: zone.serial, records: new Set(records.map(hex)) };
}

/** What the whole-version difference (the transfers before the journal) gave. */
function difference(from: Set<string>, to: Set<string>): { deleted: string[]; added: string[] } {
  return {
    deleted: [...from].filter((r) => !to.has(r)).sort(),
    added: [...to].filter((r) => !from.has(r)).sort(),
  };
}

/** The IXFR answer's parts (RFC 1995 4, one difference sequence), checked for shape. */
function ixfrParts(records: readonly ResourceRecord[]): {
  serials: number[];
  deleted: string[];
  added: string[];
} {
  const soas = records.flatMap((r, i) => (r.type === RRType.SOA ? [i] : []));
  expect(soas.length).toBe(4);
  expect(soas[0]).toBe(0);
  expect(soas[3]).toBe(records.length - 1);
  return {
    serials: soas.map((i) => serialOf(records[i])),
    deleted: records
      .slice(soas[1]! + 1, soas[2]!)
      .map(hex)
      .sort(),
    added: records
      .slice(soas[2]! + 1, soas[3]!)
      .map(hex)
      .sort(),
  };
}

async function seed(
  t: TestDirectory,
  acme: TestProvider,
  numbers: readonly string[],
): Promise<void> {
  const identityKey = identity().publicBase64;
  const rows = numbers.map((n) => ({
    number: n as E164Number,
    provider: acme.id,
    identityKey,
    contacts,
  }));
  const progress = { source: 'test', size: 0, offset: 0, line: 0, imported: 0, refused: 0 };
  await t.dir.store.importBatch(rows, { ...progress, refusedBytes: 0 }, Date.now() / 1000);
  await t.dir.zone.refresh();
}

/** A few kinds of change, one serial each: new, replaced, removed, replaced in bulk. */
async function changes(t: TestDirectory, acme: TestProvider, round: number): Promise<void> {
  const now = Date.now() / 1000;
  const put = (n: string, uri: string, holder: string | undefined): Promise<unknown> =>
    t.dir.store.put(
      {
        number: n as E164Number,
        provider: acme.id,
        identityKey: identity().publicBase64,
        contacts: [{ service: 'sip', uri }],
      },
      holder,
      now,
    );
  await put(`+4420795${round}0001`, `sip:new${round}@example.net`, undefined);
  await put('+442079000001', `sip:replaced${round}@example.net`, acme.id);
  await t.dir.store.delete(`+442079${String(100 + round).padStart(6, '0')}` as E164Number, acme.id);
  await t.dir.zone.refresh();
  await put(`+4420795${round}0001`, `sip:again${round}@example.net`, acme.id);
  await t.dir.zone.refresh();
}

describe('unsigned transfers streamed from the zone image and its journal', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  const numbers = Array.from({ length: NUMBERS }, (_, i) => `+442079${String(i).padStart(6, '0')}`);

  beforeAll(async () => {
    t = await startTestDirectory({
      providers: [acme],
      // A test below stalls an AXFR while changes commit, however long that takes here.
      extra: { transferAllowFrom: ['127.0.0.1'], dnsTcp: { transferStallMs: TIMEOUT_MS } },
    });
    await seed(t, acme, numbers);
  }, TIMEOUT_MS);
  afterAll(async () => {
    await t.close();
  });

  it(
    'answers IXFR from the journal as the whole-version difference did, also after a restart',
    async () => {
      const before = await wholeVersion(t);
      for (let round = 1; round <= 3; round++) await changes(t, acme, round);
      const after = await wholeVersion(t);
      expect(after.serial).toBeGreaterThan(before.serial + 3);
      const expected = difference(before.records, after.records);
      expect(expected.added.length).toBeGreaterThan(0);
      expect(expected.deleted.length).toBeGreaterThan(0);
      const ask = async (): Promise<void> => {
        const port = t.dir.dns.port;
        const answer = await exchange(port, ixfrQuery(before.serial, 7), 4);
        const parts = ixfrParts(answer);
        expect(parts.serials).toEqual([after.serial, before.serial, after.serial, after.serial]);
        expect({ deleted: parts.deleted, added: parts.added }).toEqual(expected);
      };
      await ask();
      // Read on a worker (as a large difference is), the same records.
      const read = async (small: number): Promise<string[]> => {
        const transfer = await unsignedTransfer(t.dir.zone.snapshot, before.serial, small);
        expect(transfer.kind).toBe('ixfr');
        const out: string[] = [];
        for await (const batch of transfer.records) {
          for (const rr of batch) out.push(Buffer.from(rr).toString('hex'));
        }
        return out;
      };
      const here = await read(Infinity);
      expect(await read(0)).toEqual(here);
      expect(here.length).toBe(4 + expected.added.length + expected.deleted.length);
      // The journal is in the image's file: a restart answers the same.
      await t.dir.stop();
      t = await startTestDirectory({
        providers: [acme],
        dataDir: t.dataDir,
        extra: { transferAllowFrom: ['127.0.0.1'] },
      });
      expect(t.dir.zone.snapshot.serial).toBe(after.serial);
      await ask();
    },
    TIMEOUT_MS,
  );

  it(
    'answers IXFR from before the journal with the whole zone',
    async () => {
      const first = t.dir.zone.snapshot.serial;
      // More steps than the journal keeps (16): the first falls out.
      for (let round = 11; round <= 19; round++) await changes(t, acme, round);
      const now = await wholeVersion(t);
      const port = t.dir.dns.port;
      const answer = await exchange(port, ixfrQuery(first, 8), 2);
      expect(soaCount(answer)).toBe(2);
      expect(serialOf(answer[0])).toBe(now.serial);
      expect(serialOf(answer.at(-1))).toBe(now.serial);
      const records = answer.filter((r) => r.type !== RRType.SOA).map(hex);
      expect(new Set(records)).toEqual(now.records);
      expect(records.length).toBe(now.records.size);
    },
    TIMEOUT_MS,
  );

  it(
    'keeps an AXFR to the version it began at while changes are applied',
    async () => {
      const at = await wholeVersion(t);
      const port = t.dir.dns.port;
      let changed = 0;
      let received = 0;
      const answer = await exchange(
        port,
        query(APEX, RRType.AXFR, { edns: false, id: 9 }),
        2,
        async (n) => {
          received = n;
          // The secondary stalls after the first message; meanwhile the zone changes.
          for (let round = 1; round <= 2; round++) await changes(t, acme, round + 20);
          changed = t.dir.zone.snapshot.serial;
        },
      );
      expect(changed).toBeGreaterThan(at.serial);
      // It stalled half-way: the rest was read after the changes were committed.
      expect(received).toBeLessThan(at.records.size / 2);
      expect(soaCount(answer)).toBe(2);
      expect(serialOf(answer[0])).toBe(at.serial);
      expect(serialOf(answer.at(-1))).toBe(at.serial);
      const records = answer.filter((r) => r.type !== RRType.SOA).map(hex);
      expect(new Set(records)).toEqual(at.records);
      expect(records.length).toBe(at.records.size);
    },
    TIMEOUT_MS,
  );

  it(
    'cuts off an AXFR whose client stops reading, and transfers again after',
    async () => {
      await t.dir.stop();
      t = await startTestDirectory({
        providers: [acme],
        dataDir: t.dataDir,
        extra: { transferAllowFrom: ['127.0.0.1'], dnsTcp: { transferStallMs: 500 } },
      });
      const port = t.dir.dns.port;
      // Reads the first message, then nothing until the server has closed the connection.
      const closedByServer = async (): Promise<void> => {
        while (t.dir.dns.tcpConnections() > 0) await new Promise((r) => setTimeout(r, 50));
      };
      const stalled = await exchange(
        port,
        query(APEX, RRType.AXFR, { edns: false, id: 10 }),
        2,
        closedByServer,
      );
      expect(soaCount(stalled)).toBe(1);
      await changes(t, acme, 30);
      const now = await wholeVersion(t);
      const answer = await exchange(port, query(APEX, RRType.AXFR, { edns: false, id: 11 }), 2);
      expect(serialOf(answer[0])).toBe(now.serial);
      expect(answer.filter((r) => r.type !== RRType.SOA).length).toBe(now.records.size);
    },
    TIMEOUT_MS,
  );
});
