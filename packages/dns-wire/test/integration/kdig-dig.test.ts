// A tiny UDP server built on this codec, queried by kdig and dig: they must parse our answers,
// our compression and our truncation, and our FORMERR path must keep the query ID.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import {
  DnsWireError,
  RRClass,
  RRType,
  Rcode,
  decodeMessage,
  encodeMessage,
  peekHeader,
  txtData,
} from '../../src/index.js';
import type { Message, ResourceRecord } from '../../src/index.js';

const run = promisify(execFile);
const ZONE = 'e164.switchboard.test.';
const NUMBER = `7.6.5.4.3.2.1.5.5.5.1.${ZONE}`;
const soa: ResourceRecord = {
  name: ZONE,
  type: RRType.SOA,
  class: RRClass.IN,
  ttl: 300,
  data: {
    mname: `ns1.${ZONE}`,
    rname: `hostmaster.${ZONE}`,
    serial: 7,
    refresh: 7200,
    retry: 3600,
    expire: 1209600,
    minimum: 60,
  },
};
const records: ResourceRecord[] = [
  {
    name: NUMBER,
    type: RRType.NAPTR,
    class: RRClass.IN,
    ttl: 300,
    data: {
      order: 100,
      preference: 10,
      flags: 'u',
      services: 'E2U+sip',
      regexp: '!^.*$!sip:alice@sip.example!',
      replacement: '.',
    },
  },
  ...Array.from({ length: 30 }, (_, i) => ({
    name: NUMBER,
    type: RRType.TXT,
    class: RRClass.IN,
    ttl: 300,
    data: txtData(`record ${i} `.padEnd(60, 'x')),
  })),
  {
    name: `mx.${ZONE}`,
    type: RRType.MX,
    class: RRClass.IN,
    ttl: 300,
    data: { preference: 5, exchange: `mail.mx.${ZONE}` },
  },
];

function answer(query: Message): Message {
  const q = query.questions[0];
  const matching = q
    ? records.filter((r) => r.name === q.name.toLowerCase() && r.type === q.type)
    : [];
  const exists = q ? records.some((r) => r.name === q.name.toLowerCase()) : false;
  return {
    ...query,
    qr: true,
    aa: true,
    ra: false,
    ad: false,
    rcode: exists ? Rcode.NOERROR : Rcode.NXDOMAIN,
    answers: matching,
    authorities: matching.length ? [] : [soa],
    additionals: [],
    edns: query.edns
      ? { udpPayloadSize: 1232, version: 0, dnssecOk: query.edns.dnssecOk, options: [] }
      : undefined,
  };
}

let server: Socket;
let port = 0;

beforeAll(async () => {
  server = createSocket('udp4');
  server.on('message', (msg, rinfo) => {
    const bytes = new Uint8Array(msg);
    let reply: Uint8Array | undefined;
    try {
      const query = decodeMessage(bytes);
      const limit = query.edns ? Math.max(512, query.edns.udpPayloadSize) : 512;
      reply = encodeMessage(answer(query), { maxSize: limit });
    } catch (err) {
      if (!(err instanceof DnsWireError)) throw err;
      const h = peekHeader(bytes);
      if (h)
        reply = encodeMessage({
          id: h.id,
          qr: true,
          opcode: h.opcode,
          aa: false,
          tc: false,
          rd: h.rd,
          ra: false,
          z: false,
          ad: false,
          cd: false,
          rcode: Rcode.FORMERR,
          questions: [],
          answers: [],
          authorities: [],
          additionals: [],
        });
    }
    if (reply) server.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('kdig and dig read what we encode', () => {
  it('kdig parses a NAPTR answer', async () => {
    const { stdout } = await run('kdig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+retry=0',
      '+time=3',
      NUMBER,
      'NAPTR',
    ]);
    expect(stdout).toContain('status: NOERROR');
    expect(stdout).toMatch(/NAPTR\s+100 10 "u" "E2U\+sip" "!\^\.\*\$!sip:alice@sip\.example!" \./);
  });

  it('dig parses compressed MX rdata and an NXDOMAIN with SOA', async () => {
    const mx = await run('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+tries=1',
      '+time=3',
      `mx.${ZONE}`,
      'MX',
    ]);
    expect(mx.stdout).toMatch(/MX\s+5 mail\.mx\.e164\.switchboard\.test\./);
    const nx = await run('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+tries=1',
      '+time=3',
      `nope.${ZONE}`,
      'A',
    ]);
    expect(nx.stdout).toContain('status: NXDOMAIN');
    expect(nx.stdout).toMatch(
      /SOA\s+ns1\.e164\.switchboard\.test\. hostmaster\.e164\.switchboard\.test\. 7 7200/,
    );
  });

  it('kdig sees TC on a reply cut to its 512-octet limit, and the cut reply is well formed', async () => {
    const { stdout } = await run('kdig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+retry=0',
      '+time=3',
      '+noedns',
      '+ignore',
      NUMBER,
      'TXT',
    ]);
    expect(stdout).toMatch(/Flags: qr aa tc/);
    expect(stdout).toContain('status: NOERROR');
    const big = await run('kdig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+retry=0',
      '+time=3',
      '+bufsize=4096',
      NUMBER,
      'TXT',
    ]);
    expect(big.stdout).not.toMatch(/Flags: [^;]*\btc\b/);
    expect(big.stdout).toContain('ANSWER: 30');
  });

  it('a malformed query gets FORMERR with its ID', async () => {
    const client = createSocket('udp4');
    const reply = await new Promise<Message>((resolve) => {
      client.on('message', (m) => resolve(decodeMessage(new Uint8Array(m))));
      // header claims one question, then a forward compression pointer
      client.send(
        Uint8Array.from([0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x20, 0, 1, 0, 1]),
        port,
        '127.0.0.1',
      );
    });
    client.close();
    expect(reply).toMatchObject({ id: 0xbeef, qr: true, rcode: Rcode.FORMERR, rd: true });
  });
});
