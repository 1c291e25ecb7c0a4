import { get as httpGet } from 'node:http';
import { RRType } from '@switchboard/dns-wire';
import type { RrsigRecord } from '@switchboard/dnssec';
import { decodeWireRecords } from '../src/transfer/wire-records.js';
import { identity } from './helpers.js';
import type { TestDirectory } from './support.js';
import { CONTACTS, makeProvider, startTestDirectory } from './support.js';

describe('signature validity', () => {
  const acme = makeProvider('acme-telecom');
  let clock = Date.now();
  let t: TestDirectory;
  beforeAll(async () => {
    t = await startTestDirectory({ providers: [acme], now: () => clock });
    await t.request(acme, 'PUT', '/v1/numbers/+442079460958', {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const earliestExpiry = async (): Promise<number> =>
    Math.min(
      ...decodeWireRecords((await t.dir.zone.transferZone(clock / 1000, 'presigned-nsec3')).records)
        .filter((r): r is RrsigRecord => r.type === RRType.RRSIG)
        .map((r) => r.data.expiration),
    );

  it('re-signs the transferred zone with a new serial before its signatures expire', async () => {
    const serial = t.dir.zone.snapshot.serial;
    const firstExpiry = await earliestExpiry();
    expect(firstExpiry - clock / 1000).toBeGreaterThan(6 * 86_400);
    expect(await t.dir.renewExportSignatures()).toBe(false);
    clock += 5 * 86_400_000; // 5 days on: less than the 3-day margin is left
    expect(await t.dir.renewExportSignatures()).toBe(true);
    expect(t.dir.zone.snapshot.serial).toBe(serial + 1);
    expect(await earliestExpiry()).toBeGreaterThan(firstExpiry + 4 * 86_400);
    expect(await t.dir.renewExportSignatures()).toBe(false);
  });
});

describe('publish API rate limits', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  beforeAll(async () => {
    t = await startTestDirectory({
      providers: [acme],
      now: () => 1_795_000_000_000,
      extra: { apiLimits: { perAddressPerMinute: 5 } },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 problem+json with Retry-After once a client address used its budget', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 7; i += 1) {
      last = await fetch(`${t.dir.apiUrl}/v1/zone`);
      statuses.push(last.status);
      await last.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(last?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(last?.headers.get('content-type')).toContain('application/problem+json');
  });
});

/** GET from a chosen loopback source address (another client prefix than 127.0.0.1). */
function getFrom(url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { localAddress }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe('unauthenticated endpoints are limited per client prefix', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  beforeAll(async () => {
    // Default limits; a fixed clock so no tokens come back during the test.
    t = await startTestDirectory({ providers: [acme], now: () => 1_795_000_000_000 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 to a client that keeps fetching /v1/zone, /healthz and unknown paths, and only to it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 300; i += 1) {
      const path = ['/v1/zone', '/healthz', '/v1/nothing'][i % 3]!;
      const res = await fetch(`${t.dir.apiUrl}${path}`);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    const first429 = statuses.indexOf(429);
    expect(first429).toBeGreaterThan(0);
    expect(statuses.slice(first429).every((s) => s === 429)).toBe(true);
    const limited = await fetch(`${t.dir.apiUrl}/v1/zone`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await limited.json()) as { code: string }).code).toBe('rate-limited');
    // Another client is not affected...
    expect(await getFrom(`${t.dir.apiUrl}/v1/zone`, '127.0.0.2')).toBe(200);
    // ...nor is signed publishing from the limited address (it has its own limits).
    const put = await t.request(acme, 'PUT', '/v1/numbers/+31201234567', {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(put.status).toBe(201);
  });
});
