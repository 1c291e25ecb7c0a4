import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDER_ENV_SCHEMA, ProviderConfigError, parseProviderEnv } from '../src/core/config.js';
import { startService } from '../src/service.js';

/** The error `parseProviderEnv` throws for `env`, or undefined. */
function refusal(env: Record<string, string>): ProviderConfigError | undefined {
  try {
    parseProviderEnv(env);
    return undefined;
  } catch (err) {
    if (err instanceof ProviderConfigError) return err;
    throw err;
  }
}

describe('parseProviderEnv', () => {
  it('fills every default when nothing is set', () => {
    expect(parseProviderEnv({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      metrics: { host: '127.0.0.1', port: 9080 },
      providerId: 'dev-provider',
      currency: 'EUR',
      validateResponses: false,
      logLevel: 'info',
    });
  });

  it('takes good values of each kind', () => {
    const config = parseProviderEnv({
      PROVIDER_API_HOST: '0.0.0.0',
      PROVIDER_API_PORT: '0',
      PROVIDER_METRICS_PORT: '65535',
      PROVIDER_STATE_DIR: '/var/lib/provider',
      PROVIDER_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      PROVIDER_ID: 'provider-b.example',
      PROVIDER_CURRENCY: 'GBP',
      PROVIDER_CODE_WEBHOOK_URL: 'https://sms.example/codes',
      PROVIDER_CODE_WEBHOOK_TOKEN: 'token-0123456789',
      SWITCHBOARD_DIRECTORY_URL: 'http://127.0.0.1:8053',
      PROVIDER_PUBLIC_URL: 'https://api.provider.example',
      PROVIDER_TRUST_PROXY: 'loopback, 10.0.0.0/8',
      PROVIDER_VALIDATE_RESPONSES: '1',
      SWITCHBOARD_TRUST_LIST: '/etc/switchboard/trust-list.json',
      SWITCHBOARD_BOARD_FINGERPRINT: 'abcdef0123456789',
      LOG_LEVEL: 'debug',
    });
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 0,
      metrics: { host: '127.0.0.1', port: 65535 },
      stateDir: '/var/lib/provider',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      providerId: 'provider-b.example',
      currency: 'GBP',
      codeWebhook: { url: 'https://sms.example/codes', bearerToken: 'token-0123456789' },
      directoryUrl: 'http://127.0.0.1:8053',
      publicUrl: 'https://api.provider.example',
      trustProxy: ['loopback', '10.0.0.0/8'],
      validateResponses: true,
      trustListPath: '/etc/switchboard/trust-list.json',
      boardFingerprint: 'abcdef0123456789',
      logLevel: 'debug',
    });
  });

  it('gives the metrics listener any free port when the API takes one', () => {
    expect(parseProviderEnv({ PROVIDER_API_PORT: '0' }).metrics.port).toBe(0);
    expect(parseProviderEnv({ PROVIDER_API_PORT: '8081' }).metrics.port).toBe(9080);
  });

  it.each([
    ['true', true],
    ['FALSE', false],
    ['0', false],
  ])('reads the boolean %s', (value, expected) => {
    expect(parseProviderEnv({ PROVIDER_VALIDATE_RESPONSES: value }).validateResponses).toBe(
      expected,
    );
  });

  it('counts an empty value as unset', () => {
    const config = parseProviderEnv({ PROVIDER_CODE_WEBHOOK_TOKEN: '', PROVIDER_API_PORT: '' });
    expect(config.port).toBe(8080);
    expect(config.codeWebhook).toBeUndefined();
  });

  it.each([
    ['PROVIDER_API_PORT', '65536', /port number/],
    ['PROVIDER_API_PORT', '80.5', /port number/],
    ['PROVIDER_API_PORT', '-1', /port number/],
    ['PROVIDER_METRICS_PORT', 'http', /port number/],
    ['PROVIDER_API_HOST', '   ', /must not be empty/],
    ['PROVIDER_DATABASE_URL', 'mysql://root:hunter2secret@db/x', /sqlite:/],
    ['PROVIDER_ID', 'Provider_B', /provider id/],
    ['PROVIDER_CURRENCY', 'euro', /ISO 4217/],
    ['PROVIDER_CODE_WEBHOOK_URL', 'ftp://user:hunter2secret@sms.example/', /http/],
    ['PROVIDER_CODE_WEBHOOK_URL', 'hunter2secret', /absolute URL/],
    ['SWITCHBOARD_DIRECTORY_URL', 'directory:8053', /URL/],
    ['PROVIDER_PUBLIC_URL', 'not a url', /absolute URL/],
    ['PROVIDER_VALIDATE_RESPONSES', 'yes', /boolean/],
    ['LOG_LEVEL', 'verbose', /one of fatal, error, warn, info, debug, trace, silent/],
  ])('refuses %s=%s naming the variable, not the value', (key, value, reason) => {
    const err = refusal({ [key]: value });
    expect(err?.key).toBe(key);
    expect(err?.message).toContain(key);
    expect(err?.message).toMatch(reason);
    expect(err?.message).not.toContain(value);
    expect(err?.message).not.toContain('hunter2secret');
  });

  it('names every variable of the schema in the README', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    for (const key of [...Object.keys(PROVIDER_ENV_SCHEMA), 'PROVIDER_CONFIG_FILE'])
      expect(readme).toContain(`| \`${key}\``);
  });
});

describe('PROVIDER_CONFIG_FILE', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'provider-config-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string): Promise<string> => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };

  it('reads the same variables from a JSON file, the environment overriding it', async () => {
    const path = await file(
      'good.json',
      JSON.stringify({ PROVIDER_API_PORT: 8081, PROVIDER_ID: 'provider-c', LOG_LEVEL: 'warn' }),
    );
    const config = parseProviderEnv({ PROVIDER_CONFIG_FILE: path, LOG_LEVEL: 'error' });
    expect(config.port).toBe(8081);
    expect(config.providerId).toBe('provider-c');
    expect(config.logLevel).toBe('error');
  });

  it.each([
    ['bad-port.json', '{"PROVIDER_API_PORT": 70000}', 'PROVIDER_API_PORT', /port number/],
    ['unknown.json', '{"PROVIDER_PORT": "1"}', 'PROVIDER_PORT', /not a provider variable/],
    ['nested.json', '{"PROVIDER_ID": {"a": 1}}', 'PROVIDER_ID', /string, number or boolean/],
    ['array.json', '["PROVIDER_ID"]', 'PROVIDER_CONFIG_FILE', /JSON object/],
    [
      'broken.json',
      '{"PROVIDER_CODE_WEBHOOK_TOKEN": "hunter2secret"',
      'PROVIDER_CONFIG_FILE',
      /not JSON/,
    ],
  ])('refuses %s naming %s', async (name, text, key, reason) => {
    const err = refusal({ PROVIDER_CONFIG_FILE: await file(name, text) });
    expect(err?.key).toBe(key);
    expect(err?.message).toMatch(reason);
    expect(err?.message).not.toContain('hunter2secret');
  });

  it('refuses a missing file', () => {
    expect(refusal({ PROVIDER_CONFIG_FILE: join(dir, 'none.json') })?.key).toBe(
      'PROVIDER_CONFIG_FILE',
    );
  });
});

describe('startService with a wrong variable', () => {
  it('stops before it opens or creates anything, naming the variable', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'provider-config-'));
    try {
      await expect(
        startService({ dataDir, env: { PROVIDER_API_PORT: '8o8o' }, started: [] }),
      ).rejects.toThrow(/PROVIDER_API_PORT must be a port number/);
      expect(await readdir(dataDir)).toEqual([]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
