import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningService } from '@switchboard/service-kit';
import { startService } from '../src/service.js';
import { parseTrustProxy } from '../src/core/config.js';

describe('startService (embedded default)', () => {
  let dataDir: string;
  let service: RunningService | null;
  let url: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'provider-api-'));
    service = await startService({
      dataDir,
      env: { PROVIDER_API_PORT: '0', LOG_LEVEL: 'silent' },
      started: [],
    });
    url = /HTTP (http:\/\/\S+)/.exec(service?.listening[0] ?? '')?.[1] ?? '';
  });
  afterAll(async () => {
    await service?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves health, the onboarding page, offline docs and metrics', async () => {
    expect(service?.name).toBe('provider-api');
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${url}/`)).text()).toMatch(/Verify your phone number/);
    expect(await (await fetch(`${url}/onboarding.js`)).text()).toMatch(/verification\/sessions/);
    const docs = await fetch(`${url}/docs/`);
    expect(await docs.text()).toMatch(/swagger-ui-bundle\.js/);
    const spec = (await (await fetch(`${url}/docs/openapi.json`)).json()) as {
      info: { title: string };
    };
    expect(spec.info.title).toBe('Switchboard provider API');
    const metrics = /metrics (http:\/\/\S+)/.exec(service?.listening.join('\n') ?? '')?.[1];
    expect(await (await fetch(metrics ?? '')).text()).toMatch(/provider_api_requests_total/);
  });

  it('creates its keys 0600, and accredits itself in the development trust list', async () => {
    const keyFile = join(dataDir, 'provider-api', 'operator-api-key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'provider-api', 'provider-key.json'))).mode & 0o777).toBe(
      0o600,
    );
    const secret = join(dataDir, 'provider-api', 'verification-secret');
    expect((await stat(secret)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(secret, 'utf8')).trim(), 'base64')).toHaveLength(32);
    const operatorKey = (await readFile(keyFile, 'utf8')).trim();
    const keys = await fetch(`${url}/v1/admin/api-keys`, {
      headers: { authorization: `Bearer ${operatorKey}` },
    });
    expect(keys.status).toBe(200);
    const list = JSON.parse(
      await readFile(join(dataDir, 'charter', 'trust-list.json'), 'utf8'),
    ) as {
      signed: { providers: { id: string; publishingKeys: unknown[] }[] };
    };
    const me = list.signed.providers.find((p) => p.id === 'dev-provider');
    expect(me?.publishingKeys).toHaveLength(1);
  });

  it('keeps its provider key across restarts', async () => {
    const before = await readFile(join(dataDir, 'provider-api', 'provider-key.json'), 'utf8');
    await service?.stop();
    service = await startService({
      dataDir,
      env: { PROVIDER_API_PORT: '0', LOG_LEVEL: 'silent' },
      started: [],
    });
    url = /HTTP (http:\/\/\S+)/.exec(service?.listening[0] ?? '')?.[1] ?? '';
    expect(await readFile(join(dataDir, 'provider-api', 'provider-key.json'), 'utf8')).toBe(before);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe('PROVIDER_TRUST_PROXY', () => {
  it('parses booleans, hop counts and address lists', () => {
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('FALSE')).toBe(false);
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy('loopback, 10.0.0.0/8')).toEqual(['loopback', '10.0.0.0/8']);
  });

  it.each(['true', '1'])(
    'starts with %s and takes the client address from the proxy',
    async (v) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'provider-api-'));
      const service = await startService({
        dataDir,
        env: { PROVIDER_API_PORT: '0', LOG_LEVEL: 'silent', PROVIDER_TRUST_PROXY: v },
        started: [],
      });
      try {
        const url = /HTTP (http:\/\/\S+)/.exec(service?.listening[0] ?? '')?.[1] ?? '';
        // 60 verification sessions per client address an hour: a 61st from one forwarded client
        // is refused, while another forwarded client is still served.
        const create = (ip: string): Promise<Response> =>
          fetch(`${url}/v1/verification/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
            body: JSON.stringify({ number: '+442079460958' }),
          });
        for (let i = 0; i < 60; i++) await (await create('203.0.113.7')).arrayBuffer();
        expect((await create('203.0.113.7')).status).toBe(429);
        expect((await create('198.51.100.9')).status).toBe(201);
      } finally {
        await service?.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
