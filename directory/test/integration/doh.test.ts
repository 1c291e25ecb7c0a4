import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, encodeMessage, Rcode, RRType } from '@switchboard/dns-wire';
import { enumNameFor } from '@switchboard/e164';
import { identity, query } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run } from './tools.js';

// DNS over HTTPS (RFC 8484) against the running directory: curl as the client, the answers
// compared with the TCP listener's, and hostile requests that must get a clear 4xx.

const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);
const MISSING = enumNameFor('+14155552671', APEX);

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** curl's answer: status, headers (lowercased) and body octets. */
async function curl(args: readonly string[], dir: string): Promise<Reply> {
  const headersFile = join(dir, 'headers.txt');
  const bodyFile = join(dir, 'body.bin');
  const out = await run('curl', ['-sS', '-D', headersFile, '-o', bodyFile, ...args]);
  if (out.code !== 0) throw new Error(`curl failed: ${out.stderr}`);
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile(headersFile, 'utf8')).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status, headers, body: await readFile(bodyFile) };
}

/** One query over the directory's TCP listener (RFC 7766 framing). */
function tcpQuery(port: number, bytes: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        socket.destroy();
        resolve(got.subarray(2, 2 + got.readUInt16BE(0)));
      }
    });
    const frame = Buffer.alloc(2 + bytes.length);
    frame.writeUInt16BE(bytes.length, 0);
    frame.set(bytes, 2);
    socket.write(frame);
  });
}

/** A raw request by node:http (bodies and headers curl and fetch would tidy up). */
function raw(
  url: string,
  options: { method: string; headers?: Record<string, string>; body?: Buffer; chunked?: boolean },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.on('error', reject);
    if (options.body && options.chunked) {
      // No Content-Length: the limit must hold while the body streams.
      for (let i = 0; i < options.body.length; i += 1024)
        req.write(options.body.subarray(i, i + 1024));
      req.end();
    } else req.end(options.body);
  });
}

const wire = (m: Message): Buffer => Buffer.from(encodeMessage(m));
const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** Smallest TTL of a reply's records, SOA MINIMUM included (what max-age may be at most). */
function minTtl(m: Message): number {
  let min = Infinity;
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) {
    min = Math.min(min, rr.ttl);
    if (rr.type === RRType.SOA && 'minimum' in rr.data) min = Math.min(min, rr.data.minimum);
  }
  return min;
}

describe('DNS over HTTPS (RFC 8484) against the running directory', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sb-doh-'));
    t = await startTestDirectory({ providers: [acme] });
    const res = await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await t.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('answers a GET by curl with what the TCP listener answers, cacheable and readable cross-origin', async () => {
    const q = wire(query(NAME, RRType.NAPTR, { id: 0 }));
    const res = await curl([`${t.dir.dohUrl}?dns=${b64url(q)}`], tmp);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/dns-message');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const answer = decodeMessage(res.body);
    expect(answer.rcode).toBe(Rcode.NOERROR);
    expect(answer.aa).toBe(true);
    expect(answer.answers.map((rr) => rr.type)).toContain(RRType.RRSIG);
    expect(answer.answers.filter((rr) => rr.type === RRType.NAPTR)).toHaveLength(3);
    // The same answer path as TCP: the same octets (the RRset's signature is kept, not remade).
    expect(res.body).toEqual(await tcpQuery(t.dir.dns.port, q));
    expect(res.headers['cache-control']).toBe(`max-age=${minTtl(answer)}`);
  });

  it('answers a POST by curl for a missing number with the signed compact denial, max-age bounded by the SOA minimum', async () => {
    const file = join(tmp, 'query.bin');
    await writeFile(file, wire(query(MISSING, RRType.NAPTR, { id: 7 })));
    const res = await curl(
      [
        '-H',
        'content-type: application/dns-message',
        '-H',
        'accept: application/dns-message',
        '--data-binary',
        `@${file}`,
        t.dir.dohUrl,
      ],
      tmp,
    );
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const answer = decodeMessage(res.body);
    expect(answer.id).toBe(7);
    expect(answer.rcode).toBe(Rcode.NOERROR);
    expect(answer.answers).toHaveLength(0);
    expect(answer.authorities.map((rr) => rr.type)).toEqual(
      expect.arrayContaining([RRType.SOA, RRType.NSEC, RRType.RRSIG]),
    );
    const soa = answer.authorities.find((rr) => rr.type === RRType.SOA)!;
    const maxAge = Number(/^max-age=(\d+)$/.exec(res.headers['cache-control'] ?? '')?.[1]);
    expect(maxAge).toBe(minTtl(answer));
    expect(maxAge).toBeLessThanOrEqual('minimum' in soa.data ? soa.data.minimum : -1);
  });

  it('refuses zone transfers over DoH', async () => {
    const q = wire(query(APEX, RRType.AXFR, { edns: false }));
    const res = await curl([`${t.dir.dohUrl}?dns=${b64url(q)}`], tmp);
    expect(res.status).toBe(200);
    expect(decodeMessage(res.body).rcode).toBe(Rcode.REFUSED);
  });

  it('answers hostile requests with RFC 9457 problems and keeps answering', async () => {
    const url = t.dir.dohUrl;
    const problem = async (res: Reply, status: number, code: string): Promise<void> => {
      expect([res.status, res.headers['content-type']]).toEqual([
        status,
        'application/problem+json',
      ]);
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ status, code });
    };
    const q = wire(query(NAME, RRType.NAPTR));
    await problem(await raw(url, { method: 'GET' }), 400, 'invalid-query');
    await problem(
      await raw(`${url}?dns=${q.toString('base64')}`, { method: 'GET' }),
      400,
      'invalid-query',
    );
    await problem(await raw(`${url}?dns=AAAA&dns=AAAA`, { method: 'GET' }), 400, 'invalid-query');
    // Three octets are no DNS header; a response (QR set) is not a query.
    await problem(await raw(`${url}?dns=AAAA`, { method: 'GET' }), 400, 'invalid-query');
    const response = wire({ ...query(NAME, RRType.NAPTR), qr: true });
    await problem(
      await raw(`${url}?dns=${b64url(response)}`, { method: 'GET' }),
      400,
      'invalid-query',
    );
    await problem(
      await raw(`${url}?dns=${'A'.repeat(6000)}`, { method: 'GET' }),
      413,
      'payload-too-large',
    );
    const post = (
      headers: Record<string, string>,
      body?: Buffer,
      chunked = false,
    ): Promise<Reply> => raw(url, { method: 'POST', headers, ...(body ? { body } : {}), chunked });
    await problem(
      await post({ 'content-type': 'application/json' }, q),
      415,
      'unsupported-media-type',
    );
    await problem(await post({}, q), 415, 'unsupported-media-type');
    const dns = { 'content-type': 'application/dns-message' };
    await problem(await post(dns, Buffer.alloc(70_000), true), 413, 'payload-too-large');
    await problem(
      await post({ ...dns, 'content-length': '1000000' }, Buffer.alloc(0)),
      413,
      'payload-too-large',
    );
    await problem(await post(dns), 400, 'invalid-query');
    const put = await raw(url, { method: 'PUT', headers: dns, body: q });
    await problem(put, 405, 'method-not-allowed');
    expect(put.headers['allow']).toBe('GET, HEAD, POST');
    await problem(
      await raw(`${url.replace('/dns-query', '/other')}?dns=${b64url(q)}`, { method: 'GET' }),
      404,
      'not-found',
    );
    // A request target that is no URL path (it must not end as a 500).
    const { origin } = new URL(url);
    await problem(await raw(`${origin}//[`, { method: 'GET' }), 404, 'not-found');
    // A header that is not a valid message: FORMERR, a DNS answer like UDP's.
    const garbage = Buffer.concat([q.subarray(0, 12), Buffer.from([0xff, 0xff, 0xff])]);
    const formerr = await post(dns, garbage);
    expect(formerr.status).toBe(200);
    expect(decodeMessage(formerr.body).rcode).toBe(Rcode.FORMERR);
    // Still answering.
    const ok = await post(dns, q);
    expect(ok.status).toBe(200);
    expect(decodeMessage(ok.body).answers.length).toBeGreaterThan(0);
  });
});

describe('DNS over HTTPS rate limiting', () => {
  let t: TestDirectory;

  beforeAll(async () => {
    // A clock that stands still: the buckets never refill, whatever the machine's speed.
    const frozen = Date.now();
    t = await startTestDirectory({
      now: () => frozen,
      extra: { rrl: { responsesPerSecond: 2, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 } },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('limits identical answers per client prefix like UDP, with 429 and Retry-After', async () => {
    const url = `${t.dir.dohUrl}?dns=${b64url(wire(query(MISSING, RRType.NAPTR)))}`;
    const statuses: number[] = [];
    let limited: Reply | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await raw(url, { method: 'GET' });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(limited?.headers['retry-after']).toBe('1');
    expect(limited?.headers['access-control-allow-origin']).toBe('*');
    // Another answer has its own bucket.
    const other = `${t.dir.dohUrl}?dns=${b64url(wire(query(APEX, RRType.SOA)))}`;
    expect((await raw(other, { method: 'GET' })).status).toBe(200);
  });
});

describe('DNS over HTTPS and the signing budget', () => {
  let t: TestDirectory;

  beforeAll(async () => {
    const frozen = Date.now();
    t = await startTestDirectory({
      now: () => frozen,
      extra: { signingBudget: { signaturesPerSecond: 200, reserve: 50, perClientPerSecond: 20 } },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('takes the signatures of a flood of random names from the same budget as TCP: REFUSED beyond it', async () => {
    const before = t.dir.zone.signer.signatures;
    const rcodes: number[] = [];
    for (let i = 0; i < 60; i++) {
      const digits = Array.from({ length: 12 }, (_, k) => (i * 7 + k * 3) % 10).join('.');
      const name = `${digits}.${i}.${APEX}`;
      const res = await raw(`${t.dir.dohUrl}?dns=${b64url(wire(query(name, RRType.NAPTR)))}`, {
        method: 'GET',
      });
      expect(res.status).toBe(200);
      rcodes.push(decodeMessage(res.body).rcode);
    }
    // One client (loopback): at most its per-client share of fresh signatures, the rest refused.
    expect(t.dir.zone.signer.signatures - before).toBeLessThanOrEqual(20);
    expect(rcodes.filter((r) => r === Rcode.REFUSED).length).toBeGreaterThanOrEqual(40);
  });
});
