import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, Rcode, RRType } from '@switchboard/dns-wire';
import { createLogger } from '@switchboard/service-kit';
import { enumNameFor } from '@switchboard/e164';
import { identity, query } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';

// Hostile packets against the running server: every malformed one is answered FORMERR (with
// the query's ID) or dropped, nothing crashes or logs an internal error, and good queries are
// still answered afterwards.

const NAME = enumNameFor('+442079460958', APEX);

function udpExchange(
  port: number,
  packet: Uint8Array,
  timeoutMs = 250,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.send(packet, port, '127.0.0.1');
  });
}

function tcpExchange(
  port: number,
  frame: Uint8Array,
  timeoutMs = 400,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const done = (value: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0))
        done(data.subarray(2, 2 + data.readUInt16BE(0)));
    });
    socket.write(frame);
  });
}

function framed(packet: Uint8Array): Buffer {
  const frame = Buffer.alloc(packet.length + 2);
  frame.writeUInt16BE(packet.length, 0);
  frame.set(packet, 2);
  return frame;
}

function decodable(packet: Uint8Array): boolean {
  try {
    decodeMessage(packet);
    return true;
  } catch {
    return false;
  }
}

/** A header: id 0xBEEF, flags from `flags`, counts as given. */
function header(qd: number, an = 0, ns = 0, ar = 0, flags = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xbeef, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ns, 8);
  b.writeUInt16BE(ar, 10);
  return b;
}

const QTAIL = Buffer.from([0, 35, 0, 1]); // NAPTR IN

describe('hostile packets', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let port: number;
  const errors: string[] = [];
  const good = encodeMessage(query(NAME, RRType.NAPTR));

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const line = chunk.toString();
        if (/"level":"(error|fatal)"/.test(line)) errors.push(line);
        cb();
      },
    });
    t = await startTestDirectory({
      providers: [acme],
      extra: { logger: createLogger({ service: 'directory', level: 'error', destination: sink }) },
    });
    port = t.dir.dns.port;
    await t.request(acme, 'PUT', '/v1/numbers/+442079460958', {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const expectFormerrOrDrop = (reply: Buffer | undefined, sentId: number | undefined): void => {
    if (reply === undefined) return;
    const decoded = decodeMessage(reply);
    expect(decoded.qr).toBe(true);
    expect(decoded.rcode).toBe(Rcode.FORMERR);
    if (sentId !== undefined) expect(decoded.id).toBe(sentId);
  };

  const crafted: Array<[string, Buffer]> = [
    [
      'compression loop in the question name',
      Buffer.concat([header(1), Buffer.from([0xc0, 12]), QTAIL]),
    ],
    [
      'forward compression pointer',
      Buffer.concat([header(1), Buffer.from([0xc0, 40]), QTAIL, Buffer.alloc(30)]),
    ],
    ['label length past the end', Buffer.concat([header(1), Buffer.from([40, 97, 98, 99])])],
    [
      'label of 64 octets',
      Buffer.concat([header(1), Buffer.from([64]), Buffer.alloc(64, 97), Buffer.from([0]), QTAIL]),
    ],
    [
      'name over 255 octets',
      Buffer.concat([
        header(1),
        ...Array.from({ length: 5 }, () =>
          Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 97)]),
        ),
        Buffer.from([0]),
        QTAIL,
      ]),
    ],
    ['question count that lies', Buffer.concat([header(3), Buffer.from([1, 97, 0]), QTAIL])],
    ['answer count that lies', Buffer.concat([header(1, 2), Buffer.from([1, 97, 0]), QTAIL])],
    [
      'additional count with a cut OPT',
      Buffer.concat([
        header(1, 0, 0, 1),
        Buffer.from([1, 97, 0]),
        QTAIL,
        Buffer.from([0, 0, 41, 4]),
      ]),
    ],
    [
      'two OPT records',
      Buffer.concat([
        header(1, 0, 0, 2),
        Buffer.from([1, 97, 0]),
        QTAIL,
        Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]),
        Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]),
      ]),
    ],
    [
      'rdlength past the end',
      Buffer.concat([
        header(1, 1),
        Buffer.from([1, 97, 0]),
        QTAIL,
        Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 200, 1, 2]),
      ]),
    ],
    ['truncated question', Buffer.concat([header(1), Buffer.from([1, 97, 0, 0])])],
    [
      'trailing garbage',
      Buffer.concat([header(1), Buffer.from([1, 97, 0]), QTAIL, Buffer.alloc(17, 0xff)]),
    ],
    [
      'oversized packet',
      Buffer.concat([header(1), Buffer.from([1, 97, 0]), QTAIL, Buffer.alloc(4000, 0x41)]),
    ],
  ];

  it.each(crafted)('%s: FORMERR or dropped over UDP and TCP', async (_label, packet) => {
    expect(decodable(packet)).toBe(false);
    expectFormerrOrDrop(await udpExchange(port, packet), 0xbeef);
    expectFormerrOrDrop(await tcpExchange(port, framed(packet)), 0xbeef);
  });

  it('drops what cannot be answered: short packets and responses (no reflection)', async () => {
    expect(await udpExchange(port, Buffer.from([1, 2, 3]))).toBeUndefined();
    expect(await udpExchange(port, Buffer.alloc(0))).toBeUndefined();
    const response = Buffer.concat([header(1, 0, 0, 0, 0x8000), Buffer.from([1, 97, 0]), QTAIL]);
    expect(await udpExchange(port, response)).toBeUndefined();
  });

  it('answers unknown classes with REFUSED and keeps TCP framing sane', async () => {
    const chaos = Buffer.from(
      encodeMessage({
        ...query(NAME, RRType.TXT),
        questions: [{ name: NAME, type: RRType.TXT, class: 1234 }],
      }),
    );
    const reply = await udpExchange(port, chaos);
    expect(reply && decodeMessage(reply).rcode).toBe(Rcode.REFUSED);
    // A frame announcing more than is sent, then the connection closes: no reply, no crash.
    expect(await tcpExchange(port, Buffer.from([0xff, 0xff, 1, 2, 3]), 200)).toBeUndefined();
  });

  it('survives random and mutated packets (property)', async () => {
    const mutated = fc
      .tuple(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        fc.nat(good.length + 20),
      )
      .map(([edits, cut]) => {
        const b = Buffer.from(good);
        for (const [at, value] of edits) b[at] = value;
        return cut >= good.length
          ? Buffer.concat([b, Buffer.alloc(cut - good.length, 7)])
          : b.subarray(0, cut);
      });
    const randomBytes = fc.uint8Array({ minLength: 0, maxLength: 700 }).map((a) => Buffer.from(a));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, randomBytes), fc.boolean(), async (packet, useTcp) => {
        // Short waits: a dropped packet costs only the timeout.
        const reply = useTcp
          ? await tcpExchange(port, framed(packet), 150)
          : await udpExchange(port, packet, 100);
        const id = packet.length >= 2 ? packet.readUInt16BE(0) : undefined;
        if (!decodable(packet)) {
          expectFormerrOrDrop(reply, id);
        } else if (reply !== undefined) {
          const decoded = decodeMessage(reply);
          expect(decoded.qr).toBe(true);
          expect(decoded.id).toBe(id);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('still answers good queries, and logged no internal error', async () => {
    const reply = await udpExchange(port, good, 2000);
    expect(reply).toBeDefined();
    const decoded = decodeMessage(reply!);
    expect(decoded.rcode).toBe(Rcode.NOERROR);
    expect(decoded.answers.filter((rr) => rr.type === RRType.NAPTR)).toHaveLength(3);
    const tcp = await tcpExchange(port, framed(good), 2000);
    expect(tcp && decodeMessage(tcp).answers.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});
