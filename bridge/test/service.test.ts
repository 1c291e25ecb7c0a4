import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService } from '../src/service.js';
import { buildRegistration } from '../src/networks/matrix-network.js';
import { parseBridgeConfig } from '../src/config.js';
import { freePort } from './support/processes.js';

describe('startService', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-svc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns null when the bridge is not configured (the embedded default)', async () => {
    expect(await startService({ dataDir: dir, env: {}, started: [] })).toBeNull();
  });

  it('starts with a config file, reports health and metrics, and stops', async () => {
    const deadPort = await freePort();
    const configPath = join(dir, 'bridge.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        http: { host: '127.0.0.1', port: 0 },
        xmpp: {
          service: `xmpp://127.0.0.1:${deadPort}`,
          domain: 'bridge.xmpp.test',
          secret: 'component-secret',
          reconnectDelayMs: 200,
        },
      }),
    );
    const service = await startService({
      dataDir: dir,
      env: { SWITCHBOARD_BRIDGE_CONFIG: configPath, LOG_LEVEL: 'silent' },
      started: [],
    });
    expect(service).not.toBeNull();
    try {
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(service!.listening.join(' '))?.[0];
      expect(url).toBeDefined();
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({
        ok: false,
        networks: { xmpp: false },
        pending: 0,
        queues: { xmpp: { connected: false, pending: 0, oldestPendingMs: 0, stuck: false } },
      });
      expect(health.headers.get('x-content-type-options')).toBe('nosniff');
      // Metrics on a listener of their own (a free port, as http.port is 0), not on `http`.
      const metricsUrl = /^metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(
        service!.listening.join('\n'),
      )?.[1];
      expect(metricsUrl).toBeDefined();
      expect(new URL(metricsUrl!).port).not.toBe(new URL(url!).port);
      const open = await fetch(`${url}/metrics`);
      expect(open.status).toBe(404);
      expect(await open.text()).not.toContain('switchboard_bridge_messages_total');
      const metrics = await (await fetch(metricsUrl!)).text();
      expect(metrics).toContain('switchboard_bridge_messages_total');
      expect(metrics).toContain('switchboard_bridge_network_up{network="xmpp"} 0');
    } finally {
      await service!.stop();
    }
  });

  it('refuses a broken config file with a clear error', async () => {
    const configPath = join(dir, 'broken.json');
    writeFileSync(configPath, JSON.stringify({ http: { port: 'nine' } }));
    await expect(
      startService({ dataDir: dir, env: { SWITCHBOARD_BRIDGE_CONFIG: configPath }, started: [] }),
    ).rejects.toThrow(/\/http\/port/);
  });
});

describe('registration CLI', () => {
  it('writes a private registration file from the bridge config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-reg-'));
    try {
      const configPath = join(dir, 'bridge.json');
      const out = join(dir, 'registration.yaml');
      writeFileSync(
        configPath,
        JSON.stringify({
          matrix: {
            homeserverUrl: 'http://127.0.0.1:8008',
            domain: 'hs.test',
            asToken: 'a'.repeat(32),
            hsToken: 'h'.repeat(32),
          },
        }),
      );
      const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
      execFileSync(
        process.execPath,
        [
          cli,
          'registration',
          '--config',
          configPath,
          '--url',
          'http://127.0.0.1:9000',
          '--out',
          out,
        ],
        { stdio: 'pipe' },
      );
      const text = readFileSync(out, 'utf8');
      expect(text).toMatch(/^url: http:\/\/127\.0\.0\.1:9000$/m);
      expect(text).toMatch(/sender_localpart: switchboardbot/);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      let failed = false;
      try {
        execFileSync(
          process.execPath,
          [cli, 'registration', '--config', join(dir, 'missing.json'), '--out', out],
          { stdio: 'pipe' },
        );
      } catch (err) {
        failed = true;
        expect(String((err as { stderr: Buffer }).stderr)).toMatch(/config file is missing/);
      }
      expect(failed).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registration', () => {
  it('claims an exclusive ghost namespace and asks for ephemeral events', () => {
    const config = parseBridgeConfig({
      matrix: {
        homeserverUrl: 'http://127.0.0.1:8008',
        domain: 'hs.test',
        asToken: 'a'.repeat(32),
        hsToken: 'h'.repeat(32),
      },
    });
    const out = buildRegistration(config.matrix!, 'http://127.0.0.1:9000').getOutput();
    expect(out).toMatchObject({
      id: 'switchboard',
      url: 'http://127.0.0.1:9000',
      as_token: 'a'.repeat(32),
      hs_token: 'h'.repeat(32),
      sender_localpart: 'switchboardbot',
      rate_limited: false,
      namespaces: {
        users: [{ regex: '@_switchboard_.*:hs\\.test', exclusive: true }],
        aliases: [{ regex: '#_switchboard_.*:hs\\.test', exclusive: true }],
      },
    });
    expect(JSON.stringify(out)).toMatch(/push_ephemeral":true/);
    // One url form for old and new homeservers: no API path of its own (a proxy prefix stays).
    const url = (u: string): unknown => buildRegistration(config.matrix!, u).getOutput().url;
    expect(url('http://127.0.0.1:9000/_matrix/app/v1/')).toBe('http://127.0.0.1:9000');
    expect(url('https://bridge.example/switchboard/')).toBe('https://bridge.example/switchboard');
  });
});
