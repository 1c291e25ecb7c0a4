import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningService } from '@switchboard/service-kit';
import { startService } from '../src/service.js';

// Issue 14 item 9, against the service as `npm start` runs it.
describe('provider API under hostile HTTP', () => {
  let dataDir: string;
  let service: RunningService | null;
  let url: string;
  let metricsUrl: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'provider-api-'));
    service = await startService({
      dataDir,
      env: { PROVIDER_API_PORT: '0', LOG_LEVEL: 'silent' },
      started: [],
    });
    const lines = service?.listening.join('\n') ?? '';
    url = /HTTP (http:\/\/\S+)/.exec(lines)?.[1] ?? '';
    metricsUrl = /metrics (http:\/\/\S+)/.exec(lines)?.[1] ?? '';
  });
  afterAll(async () => {
    await service?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['POST', '/v1/verification/sessions'],
    ['POST', '/v1/accounts'],
    ['POST', '/v1/port-outs/complete'],
    ['POST', `/v1/mailboxes/${'A'.repeat(43)}/messages`],
    ['POST', '/v1/admin/api-keys'],
  ])(
    'answers %s %s with a body nested 100,000 deep with 400 problem+json',
    async (method, path) => {
      for (const body of ['['.repeat(100_000) + ']'.repeat(100_000), '{"a":'.repeat(50_000)]) {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const problem = (await res.json()) as { code: string; detail: string };
        expect(problem.code).toBe('request.malformed-json');
        expect(problem.detail).toMatch(/nested deeper than 64 levels/);
      }
    },
  );

  it('still accepts ordinary bodies', async () => {
    const res = await fetch(`${url}/v1/verification/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ number: '+442079460958' }),
    });
    expect(res.status).toBe(201);
  });

  it('serves its HTML pages with a strict policy and nosniff on everything', async () => {
    for (const path of ['/', '/docs/', '/operator']) {
      const res = await fetch(`${url}${path}`);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/^default-src 'none'; script-src 'self'; style-src 'self'/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-|https?:|\*/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      // Every inline style or script of the page is allowed by the hash of its exact text.
      const page = await res.text();
      for (const [, kind, text] of page.matchAll(/<(style|script)>([\s\S]*?)<\/\1>/g)) {
        const hash = createHash('sha256')
          .update(text ?? '')
          .digest('base64');
        expect(csp).toMatch(new RegExp(`${kind}-src [^;]*'sha256-${hash.replace(/\+/g, '\\+')}'`));
      }
    }
    for (const path of [
      '/healthz',
      '/onboarding.js',
      '/operator.js',
      '/docs/openapi.json',
      '/v1/nothing',
    ]) {
      const res = await fetch(`${url}${path}`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });

  it('serves /metrics on its own loopback listener only', async () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl).port).not.toBe(new URL(url).port);
    expect(await (await fetch(metricsUrl)).text()).toMatch(/provider_api_requests_total/);
    const open = await fetch(`${url}/metrics`);
    expect(open.status).toBe(404);
    expect(await open.text()).not.toMatch(/provider_api_requests_total/);
  });
});
