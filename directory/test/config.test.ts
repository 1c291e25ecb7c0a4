import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DIRECTORY_ENV_SCHEMA,
  DirectoryConfigError,
  directoryConfigFromEnv,
} from '../src/config.js';

/** The error `directoryConfigFromEnv` throws for `env`. */
function refusal(env: Record<string, string>): DirectoryConfigError {
  try {
    directoryConfigFromEnv('/data', env);
  } catch (err) {
    if (err instanceof DirectoryConfigError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('directoryConfigFromEnv', () => {
  it('has safe defaults for the TCP limits and reads each from the environment', () => {
    expect(directoryConfigFromEnv('/data', {}).tcp).toEqual({
      idleMs: 10_000,
      messageDeadlineMs: 10_000,
      transferStallMs: 30_000,
      maxConnections: 200,
      maxConnectionsPerClient: 16,
    });
    const config = directoryConfigFromEnv('/data', {
      DIRECTORY_TCP_IDLE_MS: '3000',
      DIRECTORY_TCP_MESSAGE_DEADLINE_MS: '2000',
      DIRECTORY_TCP_TRANSFER_STALL_MS: '4000',
      DIRECTORY_TCP_MAX_CONNECTIONS: '1000',
      DIRECTORY_TCP_MAX_PER_CLIENT: '8',
    });
    expect(config.tcp).toEqual({
      idleMs: 3000,
      messageDeadlineMs: 2000,
      transferStallMs: 4000,
      maxConnections: 1000,
      maxConnectionsPerClient: 8,
    });
  });

  it('keeps 1024 MiB of answers in memory unless DIRECTORY_ANSWER_CACHE_MB says otherwise', () => {
    expect(directoryConfigFromEnv('/data', {}).answerCacheBytes).toBe(1024 * 2 ** 20);
    const config = directoryConfigFromEnv('/data', { DIRECTORY_ANSWER_CACHE_MB: '256' });
    expect(config.answerCacheBytes).toBe(256 * 2 ** 20);
    for (const bad of ['0', '16384', '1.5']) {
      expect(() => directoryConfigFromEnv('/data', { DIRECTORY_ANSWER_CACHE_MB: bad })).toThrow(
        /DIRECTORY_ANSWER_CACHE_MB/,
      );
    }
  });

  it('names the variable when a limit is not a whole number of at least 1', () => {
    for (const bad of ['0', '-1', '1.5', 'lots']) {
      expect(() => directoryConfigFromEnv('/data', { DIRECTORY_TCP_MAX_CONNECTIONS: bad })).toThrow(
        DirectoryConfigError,
      );
      expect(() => directoryConfigFromEnv('/data', { DIRECTORY_TCP_IDLE_MS: bad })).toThrow(
        /DIRECTORY_TCP_IDLE_MS/,
      );
    }
  });

  it('transfers unsigned unless pre-signed NSEC3 is opted in to; refuses other forms', () => {
    expect(directoryConfigFromEnv('/data', {}).transferForm).toBe('unsigned');
    expect(
      directoryConfigFromEnv('/data', { DIRECTORY_TRANSFER: 'presigned-nsec3' }).transferForm,
    ).toBe('presigned-nsec3');
    expect(() => directoryConfigFromEnv('/data', { DIRECTORY_TRANSFER: 'nsec3' })).toThrow(
      /DIRECTORY_TRANSFER must be one of unsigned, presigned-nsec3/,
    );
    expect(
      directoryConfigFromEnv('/data', { DIRECTORY_OPERATOR_KEYS: '/k/a.pem, /k/b.key' })
        .operatorKeyFiles,
    ).toEqual(['/k/a.pem', '/k/b.key']);
  });

  it('reads the signing budget and cookie secrets, refusing a reserve as large as the budget', () => {
    expect(directoryConfigFromEnv('/data', {}).signingBudget).toEqual({
      signaturesPerSecond: 4000,
      reserve: 1000,
      perClientPerSecond: 200,
    });
    const config = directoryConfigFromEnv('/data', {
      DIRECTORY_RRL_SIGN_RATE: '100',
      DIRECTORY_RRL_SIGN_PER_CLIENT: '0',
      DIRECTORY_COOKIE_SECRET: 'e5e973e5a6b2a43f48e7dc849e37bfcf,445536bcd2513298075a5d379663c962',
    });
    expect(config.signingBudget).toEqual({
      signaturesPerSecond: 100,
      reserve: 25,
      perClientPerSecond: 0,
    });
    expect(config.cookieSecrets).toHaveLength(2);
    expect(() =>
      directoryConfigFromEnv('/data', {
        DIRECTORY_RRL_SIGN_RATE: '100',
        DIRECTORY_RRL_SIGN_RESERVE: '100',
      }),
    ).toThrow(/DIRECTORY_RRL_SIGN_RESERVE/);
    let message = '';
    try {
      directoryConfigFromEnv('/data', {
        DIRECTORY_COOKIE_SECRET: 'e5e973e5a6b2a43f48e7dc849e37bfcfaa',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /DIRECTORY_COOKIE_SECRET is not valid: a cookie secret is 32 hexadecimal digits/,
    );
    expect(message).not.toMatch(/e5e973/);
  });

  it.each([
    ['DIRECTORY_DNS_PORT', '70000', 'must be a port number'],
    ['DIRECTORY_API_HOST', '  ', 'must not be empty'],
    ['DIRECTORY_DNSSEC_ALGORITHM', '8', 'must be 13 (ECDSA P-256) or 15 (Ed25519)'],
    ['DIRECTORY_APEX', 'bad..apex', 'must be a domain name'],
    ['DIRECTORY_DATABASE_URL', 'mysql://root:hunter2@db/x', 'must start with sqlite:'],
    ['DIRECTORY_RRL_RATE', '-5', 'must be a whole number >= 0'],
    ['DIRECTORY_SECONDARIES', 'ns2.example', 'is not valid:'],
    ['LOG_LEVEL', 'verbose', 'must be one of fatal'],
  ])('refuses %s=%s naming the variable and the reason', (key, value, reason) => {
    const err = refusal({ [key]: value });
    expect(err.key).toBe(key);
    expect(err.message).toContain(`directory config ${key} ${reason}`);
  });

  it('takes providers from a key file, a pinned trust list or the development list', () => {
    const at = (env: Record<string, string>) => directoryConfigFromEnv('/data', env);
    expect(at({}).providers).toEqual({ kind: 'development' });
    expect(at({}).developmentTrustList).toBe(true);
    expect(at({ DIRECTORY_PROVIDERS_FILE: '/p.json' }).providers).toEqual({
      kind: 'file',
      path: '/p.json',
    });
    const pinned = at({ SWITCHBOARD_TRUST_LIST: '/l.json', SWITCHBOARD_BOARD_FINGERPRINT: 'ab12' });
    expect(pinned.providers).toEqual({
      kind: 'trust-list',
      path: '/l.json',
      boardFingerprint: 'ab12',
    });
    expect(pinned.developmentTrustList).toBe(false);
    expect(refusal({ SWITCHBOARD_TRUST_LIST: '/l.json' }).message).toContain(
      'SWITCHBOARD_TRUST_LIST needs SWITCHBOARD_BOARD_FINGERPRINT',
    );
  });

  it('reads DIRECTORY_CONFIG_FILE under the environment, refusing keys it does not know', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-directory-config-'));
    try {
      const file = join(dir, 'directory.json');
      writeFileSync(file, JSON.stringify({ DIRECTORY_DNS_PORT: 5353, DIRECTORY_API_PORT: 0 }));
      const config = directoryConfigFromEnv('/data', {
        DIRECTORY_CONFIG_FILE: file,
        DIRECTORY_DNS_PORT: '5354',
      });
      expect([config.dnsPort, config.apiPort, config.metricsPort, config.dohPort]).toEqual([
        5354, 0, 0, 0,
      ]);
      writeFileSync(file, JSON.stringify({ DIRECTORY_DNS_PRT: 1 }));
      expect(refusal({ DIRECTORY_CONFIG_FILE: file }).message).toBe(
        'directory config DIRECTORY_DNS_PRT is not a directory variable (in DIRECTORY_CONFIG_FILE)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every variable of the schema in the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| variable'));
    for (const key of [...Object.keys(DIRECTORY_ENV_SCHEMA), 'DIRECTORY_CONFIG_FILE'])
      expect(table).toContain(`\`${key}\``);
  });
});
