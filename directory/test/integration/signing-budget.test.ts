import { createSocket } from 'node:dgram';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, encodeMessage, Rcode, RRType } from '@switchboard/dns-wire';
import { enumNameFor } from '@switchboard/e164';
import { identity, query } from '../helpers.js';
import type { DirectoryOptions } from '../../src/directory.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

// A flood of random unpublished names must not buy a signature each (issue 14 item 2): signing
// is admitted before it is done, against RRL and a global budget, over UDP and TCP, and clients
// that show a valid DNS cookie (RFC 7873/9018) keep being answered. The directories here run on
// a stopped clock: no token comes back during a test, so the bounds below are exact and do not
// depend on how fast the machine is.

const NUMBER = '+442079460958';
const PUBLISHED = enumNameFor(NUMBER, APEX);
const BUDGET = { signaturesPerSecond: 200, reserve: 50, perClientPerSecond: 100 };
const COOKIE = 10;

/** A name under the apex nobody published: 12 random digits. */
function randomName(): string {
  return `${Array.from({ length: 12 }, () => randomInt(10)).join('.')}.${APEX}`;
}

function withCookie(message: Message, cookie: Uint8Array): Message {
  return { ...message, edns: { ...message.edns!, options: [{ code: COOKIE, data: cookie }] } };
}

function cookieOf(message: Message): Uint8Array | undefined {
  return message.edns?.options.find((o) => o.code === COOKIE)?.data;
}

const signedDenial = (m: Message): boolean =>
  !m.tc && m.authorities.some((rr) => rr.type === RRType.RRSIG);

/**
 * Sends `packets` over UDP in batches of 100 from one socket, each batch once the replies
 * `expected` after so many queries are in (or 5 s passed), and returns every reply decoded.
 */
async function udpFlood(
  port: number,
  packets: readonly Uint8Array[],
  expected: (sent: number) => number = (sent) => sent,
): Promise<Message[]> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  try {
    for (let i = 0; i < packets.length; i += 100) {
      const batch = packets.slice(i, i + 100);
      for (const p of batch) {
        await new Promise<void>((resolve) => socket.send(p, port, '127.0.0.1', () => resolve()));
      }
      const want = expected(i + batch.length);
      const deadline = Date.now() + 5000;
      while (replies.length < want && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  } finally {
    socket.close();
  }
  return replies.map((r) => decodeMessage(r));
}

/** One UDP query and its reply. */
async function ask(port: number, message: Message): Promise<Message> {
  const [reply] = await udpFlood(port, [encodeMessage(message)]);
  if (!reply) throw new Error('no reply');
  return reply;
}

/** Sends `messages` on one TCP connection at once and reads as many replies. */
async function tcpExchange(port: number, messages: readonly Message[]): Promise<Message[]> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const replies: Message[] = [];
  let buffered = Buffer.alloc(0);
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        replies.push(decodeMessage(buffered.subarray(2, 2 + length)));
        buffered = buffered.subarray(2 + length);
      }
      if (replies.length >= messages.length) resolve();
    });
    socket.on('close', () => reject(new Error(`closed after ${replies.length} replies`)));
  });
  for (const m of messages) {
    const bytes = encodeMessage(m);
    const frame = Buffer.alloc(2 + bytes.length);
    frame.writeUInt16BE(bytes.length, 0);
    frame.set(bytes, 2);
    socket.write(frame);
  }
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return replies;
}

async function metric(t: TestDirectory, pattern: RegExp): Promise<number> {
  const text = await (await fetch(t.dir.metricsUrl)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

/**
 * A directory on a stopped clock with one published number, its apex signed ahead and the
 * number's NAPTR answer signed (numbers are signed when first asked, then kept).
 */
async function start(extra: Partial<DirectoryOptions>): Promise<TestDirectory> {
  const acme = makeProvider('acme-telecom');
  const frozen = Date.now();
  const t = await startTestDirectory({ providers: [acme], now: () => frozen, extra });
  const res = await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
    identityKey: identity().publicBase64,
    contacts: CONTACTS,
  });
  expect(res.status).toBe(201);
  const { serial } = await t.dir.store.snapshot();
  const warm = await waitFor(async () => {
    const h = (await (await fetch(`${t.dir.apiUrl}/healthz`)).json()) as {
      serial: number;
      warm: boolean;
    };
    return h.serial === serial && h.warm;
  }, 20_000);
  expect(warm).toBe(true);
  const signed = await ask(t.dir.dns.port, query(PUBLISHED, RRType.NAPTR));
  expect(signed.answers.some((rr) => rr.type === RRType.RRSIG)).toBe(true);
  return t;
}

describe('signing budget against a flood of random names', () => {
  let t: TestDirectory;
  beforeAll(async () => {
    t = await start({ signingBudget: BUDGET });
  });
  afterAll(async () => {
    await t.close();
  });

  it('over UDP: signs no more than the budget less its reserve; published numbers and cookie clients are still answered', async () => {
    const port = t.dir.dns.port;
    const before = t.dir.zone.signer.signatures;
    const flood = Array.from({ length: 4000 }, (_, i) =>
      encodeMessage(query(randomName(), RRType.NAPTR, { id: i & 0xffff })),
    );
    const replies = await udpFlood(port, flood);
    const made = t.dir.zone.signer.signatures - before;
    // Unverified UDP may not take the reserve: at most 150 signatures, whatever the flood.
    expect(made).toBeLessThanOrEqual(BUDGET.signaturesPerSecond - BUDGET.reserve);
    expect(replies.filter(signedDenial).length).toBeLessThanOrEqual(made);
    const truncated = replies.filter((m) => m.tc);
    expect(truncated.length).toBeGreaterThan(replies.length - 200);
    expect(truncated.every((m) => m.authorities.length === 0 && m.rcode === Rcode.NOERROR)).toBe(
      true,
    );
    expect(
      await metric(
        t,
        /^directory_dns_limited_total\{transport="udp",reason="budget",action="tc"\} (\d+)/m,
      ),
    ).toBe(truncated.length);

    // A published number: its answer is kept encoded, no signature needed.
    const published = await ask(port, query(PUBLISHED, RRType.NAPTR));
    expect(published.rcode).toBe(Rcode.NOERROR);
    expect(published.answers.some((rr) => rr.type === RRType.RRSIG)).toBe(true);

    // A client with a client cookie alone is sent BADCOOKIE with a server cookie (RFC 7873
    // 5.2.3); asking again with it, it is verified and answered from the reserve.
    const name = randomName();
    const client = randomBytes(8);
    const first = await ask(port, withCookie(query(name, RRType.NAPTR), client));
    expect(first.rcode).toBe(Rcode.BADCOOKIE);
    const cookie = cookieOf(first);
    expect(cookie).toHaveLength(24);
    expect(Buffer.from(cookie!.subarray(0, 8))).toEqual(client);
    const second = await ask(port, withCookie(query(name, RRType.NAPTR), cookie!));
    // Names of digits under the apex are empty non-terminals: NOERROR, signed NSEC (README).
    expect(second.rcode).toBe(Rcode.NOERROR);
    expect(signedDenial(second)).toBe(true);
    expect(Buffer.from(cookieOf(second)!)).toEqual(Buffer.from(cookie!));
  });
});

describe('signing limits over TCP', () => {
  let t: TestDirectory;
  beforeAll(async () => {
    t = await start({ signingBudget: BUDGET });
  });
  afterAll(async () => {
    await t.close();
  });

  it('limits signatures per client over TCP too, answering REFUSED beyond it', async () => {
    const before = t.dir.zone.signer.signatures;
    const messages = Array.from({ length: 400 }, (_, i) =>
      query(randomName(), RRType.NAPTR, { id: i }),
    );
    messages.push(query(PUBLISHED, RRType.NAPTR, { id: 400 }));
    const replies = await tcpExchange(t.dir.dns.port, messages);
    const made = t.dir.zone.signer.signatures - before;
    expect(made).toBeLessThanOrEqual(BUDGET.perClientPerSecond);
    const refused = replies.filter((m) => m.rcode === Rcode.REFUSED);
    expect(refused.length).toBeGreaterThanOrEqual(400 - BUDGET.perClientPerSecond);
    expect(replies.filter(signedDenial).length).toBe(400 - refused.length);
    // The published number, asked last on the same connection, is answered.
    const last = replies.find((m) => m.id === 400);
    expect(last?.rcode).toBe(Rcode.NOERROR);
    expect(last?.answers.some((rr) => rr.type === RRType.NAPTR)).toBe(true);
    expect(
      await metric(
        t,
        /^directory_dns_limited_total\{transport="tcp",reason="client",action="refused"\} (\d+)/m,
      ),
    ).toBe(refused.length);
  });
});

describe('RRL before signing, and DNS cookies with real clients', () => {
  let t: TestDirectory;
  beforeAll(async () => {
    t = await start({ rrl: { responsesPerSecond: 5, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('slips BADCOOKIE to cookie clients over the rate, signing nothing for them; dig and kdig cookies are accepted', async () => {
    const port = String(t.dir.dns.port);
    const before = t.dir.zone.signer.signatures;
    const client = randomBytes(8);
    const flood = Array.from({ length: 200 }, (_, i) =>
      encodeMessage(withCookie(query(randomName(), RRType.NAPTR, { id: i }), client)),
    );
    // 5 answered, then every second one slipped and the rest dropped.
    const replies = await udpFlood(t.dir.dns.port, flood, (sent) =>
      Math.min(sent, 5 + Math.floor((sent - 5) / 2)),
    );
    expect(t.dir.zone.signer.signatures - before).toBeLessThanOrEqual(5);
    const slipped = replies.filter((m) => m.rcode === Rcode.BADCOOKIE);
    expect(slipped.length).toBeGreaterThan(50);
    expect(slipped.every((m) => cookieOf(m)?.length === 24 && m.authorities.length === 0)).toBe(
      true,
    );

    // dig sends a client cookie and gets a server cookie back...
    const first = await run('dig', [
      '+cookie',
      '+dnssec',
      '-p',
      port,
      '@127.0.0.1',
      PUBLISHED,
      'NAPTR',
    ]);
    expect(first.stdout).toMatch(/status: NOERROR/);
    const cookie = /; COOKIE: ([0-9a-f]{48}) \(good\)/i.exec(first.stdout)?.[1];
    expect(cookie).toBeDefined();
    const validBefore = await metric(t, /^directory_dns_cookies_total\{status="valid"\} (\d+)/m);
    // ...and with it is exempt from the RRL that holds this address: a denial signed for it.
    const second = await run('dig', [
      `+cookie=${cookie!}`,
      '+dnssec',
      '-p',
      port,
      '@127.0.0.1',
      randomName(),
      'NAPTR',
    ]);
    expect(second.stdout).toMatch(/status: NOERROR/);
    expect(second.stdout).toMatch(/\bRRSIG\s+NSEC\b/);
    expect(second.stdout).toMatch(/; COOKIE: [0-9a-f]{48} \(good\)/i);
    expect(await metric(t, /^directory_dns_cookies_total\{status="valid"\} (\d+)/m)).toBe(
      validBefore + 1,
    );

    const k1 = await run('kdig', ['+cookie', '-p', port, '@127.0.0.1', PUBLISHED, 'NAPTR']);
    const kcookie = /COOKIE: ([0-9a-f]{48})/i.exec(k1.stdout)?.[1];
    expect(kcookie).toBeDefined();
    const k2 = await run('kdig', [
      `+cookie=${kcookie!}`,
      '+dnssec',
      '-p',
      port,
      '@127.0.0.1',
      randomName(),
      'NAPTR',
    ]);
    expect(k2.stdout).toMatch(/status: NOERROR/);
    expect(k2.stdout).toMatch(/\bRRSIG\s+NSEC\b/);
    expect(await metric(t, /^directory_dns_cookies_total\{status="valid"\} (\d+)/m)).toBe(
      validBefore + 2,
    );
  });

  it('answers a malformed cookie FORMERR and a question-less cookie query with a cookie (RFC 7873 5.2.2, 5.4)', async () => {
    const port = t.dir.dns.port;
    const bad = await ask(port, withCookie(query(PUBLISHED, RRType.NAPTR), new Uint8Array(12)));
    expect(bad.rcode).toBe(Rcode.FORMERR);
    const client = randomBytes(8);
    const bare = await ask(port, {
      ...withCookie(query(PUBLISHED, RRType.NAPTR), client),
      questions: [],
    });
    expect(bare.rcode).toBe(Rcode.NOERROR);
    expect(Buffer.from(cookieOf(bare)!.subarray(0, 8))).toEqual(client);
    expect(cookieOf(bare)).toHaveLength(24);
  });

  it('keeps the cookie secret in a file only its owner can read, for replicas to share', async () => {
    const path = join(t.dataDir, 'cookie.secret');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, 'utf8')).trim()).toMatch(/^[0-9a-f]{32}$/);
  });
});
