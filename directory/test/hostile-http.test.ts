import { createLogger } from '@switchboard/service-kit';
import { identity } from './helpers.js';
import type { TestDirectory } from './support.js';
import { CONTACTS, makeProvider, startTestDirectory } from './support.js';

// Issue 14 item 9: the publish API under hostile HTTP.
describe('publish API under hostile HTTP', () => {
  const acme = makeProvider('acme');
  const logged: string[] = [];
  let t: TestDirectory;
  beforeAll(async () => {
    const logger = createLogger({
      service: 'directory',
      level: 'warn',
      destination: { write: (line: string) => void logged.push(line) },
    });
    t = await startTestDirectory({ providers: [acme], extra: { logger } });
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['arrays', (n: number) => `{"contacts":${'['.repeat(n)}${']'.repeat(n)}}`],
    ['objects', (n: number) => `${'{"move":'.repeat(n)}{}${'}'.repeat(n)}`],
    ['an unclosed body', (n: number) => `{"contacts":${'['.repeat(n)}`],
  ])(
    'refuses a body of %s nested 1,500 deep (under the 16 KiB limit) with 400 and logs no error',
    async (_kind, body) => {
      const res = await t.request(acme, 'PUT', '/v1/numbers/+31201234567', undefined, {
        rawBody: body(1500),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({
        code: 'invalid-body',
        detail: 'the JSON body is nested deeper than 64 levels',
      });
      expect(logged.filter((l) => /"level":50/.test(l))).toEqual([]);
    },
  );

  it('still publishes an ordinary body', async () => {
    const res = await t.request(acme, 'PUT', '/v1/numbers/+31201234568', {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(res.status).toBe(201);
  });

  it('sends nosniff and a no-framing policy on every response', async () => {
    for (const path of ['/healthz', '/v1/zone', '/v1/nothing', '/v1/numbers/+31201234567']) {
      const res = await fetch(`${t.dir.apiUrl}${path}`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
    }
  });

  it('serves /metrics on its own loopback listener, not on the publish API', async () => {
    expect(t.dir.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(t.dir.metricsUrl).port).not.toBe(new URL(t.dir.apiUrl).port);
    expect(await (await fetch(t.dir.metricsUrl)).text()).toMatch(/^directory_zone_serial \d+$/m);
    const open = await fetch(`${t.dir.apiUrl}/metrics`);
    expect(open.status).toBe(404);
    expect(((await open.json()) as { code: string }).code).toBe('not-found');
  });

  it('answers a wrong method with the same problem convention as the provider, naming the allowed ones', async () => {
    const res = await fetch(`${t.dir.apiUrl}/healthz`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({
      type: 'urn:switchboard:problem:not-found',
      title: 'Not Found',
      status: 404,
      code: 'not-found',
    });
  });
});
