import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvConfigError, envKinds, readEnvSchema } from '../src/env-schema.js';

const SCHEMA = {
  DEMO_PORT: { kind: envKinds.port, default: '8080' },
  DEMO_LIMIT: { kind: envKinds.integer(1, 100) },
  DEMO_PEERS: { kind: envKinds.list() },
  DEMO_MODE: { kind: envKinds.enumOf(['fast', 'safe'] as const), default: 'safe' },
} as const;
const OPTIONS = { service: 'demo', configFileVariable: 'DEMO_CONFIG_FILE' };

function refusal(env: Record<string, string>): EnvConfigError {
  try {
    readEnvSchema(SCHEMA, env, OPTIONS);
  } catch (err) {
    if (err instanceof EnvConfigError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('readEnvSchema', () => {
  it('fills defaults, converts each kind and leaves unset variables without default unset', () => {
    expect(readEnvSchema(SCHEMA, { DEMO_LIMIT: '' }, OPTIONS)).toEqual({
      DEMO_PORT: 8080,
      DEMO_MODE: 'safe',
    });
    expect(
      readEnvSchema(
        SCHEMA,
        { DEMO_LIMIT: '100', DEMO_PEERS: ' a, ,b ', DEMO_MODE: 'fast' },
        OPTIONS,
      ),
    ).toEqual({ DEMO_PORT: 8080, DEMO_LIMIT: 100, DEMO_PEERS: ['a', 'b'], DEMO_MODE: 'fast' });
  });

  it.each([
    ['DEMO_PORT', '65536', 'must be a port number'],
    ['DEMO_LIMIT', '4242', 'must be a whole number 1-100'],
    ['DEMO_LIMIT', '1.5', 'must be a whole number 1-100'],
    ['DEMO_MODE', 'slow', 'must be one of fast, safe'],
  ])('refuses %s=%s naming the key and the reason, not the value', (key, value, reason) => {
    const err = refusal({ [key]: value });
    expect(err.key).toBe(key);
    expect(err.message.startsWith(`demo config ${key} ${reason}`)).toBe(true);
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain(value);
  });

  it('reads a JSON file of the same variables under the environment, refusing unknown keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-env-schema-'));
    try {
      const file = join(dir, 'demo.json');
      writeFileSync(file, JSON.stringify({ DEMO_PORT: 9000, DEMO_LIMIT: 5 }));
      expect(readEnvSchema(SCHEMA, { DEMO_CONFIG_FILE: file, DEMO_LIMIT: '7' }, OPTIONS)).toEqual({
        DEMO_PORT: 9000,
        DEMO_LIMIT: 7,
        DEMO_MODE: 'safe',
      });
      writeFileSync(file, JSON.stringify({ DEMO_PORTS: 1 }));
      expect(refusal({ DEMO_CONFIG_FILE: file }).message).toBe(
        'demo config DEMO_PORTS is not a demo variable (in DEMO_CONFIG_FILE)',
      );
      expect(refusal({ DEMO_CONFIG_FILE: join(dir, 'missing.json') }).key).toBe('DEMO_CONFIG_FILE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
