import { DirectoryConfigError, directoryConfigFromEnv } from '../src/config.js';

describe('directoryConfigFromEnv', () => {
  it('has safe defaults for the TCP limits and reads each from the environment', () => {
    expect(directoryConfigFromEnv('/data', {}).tcp).toEqual({
      idleMs: 10_000,
      messageDeadlineMs: 10_000,
      maxConnections: 200,
      maxConnectionsPerClient: 16,
    });
    const config = directoryConfigFromEnv('/data', {
      DIRECTORY_TCP_IDLE_MS: '3000',
      DIRECTORY_TCP_MESSAGE_DEADLINE_MS: '2000',
      DIRECTORY_TCP_MAX_CONNECTIONS: '1000',
      DIRECTORY_TCP_MAX_PER_CLIENT: '8',
    });
    expect(config.tcp).toEqual({
      idleMs: 3000,
      messageDeadlineMs: 2000,
      maxConnections: 1000,
      maxConnectionsPerClient: 8,
    });
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
    expect(message).toMatch(/DIRECTORY_COOKIE_SECRET: a cookie secret is 32 hexadecimal digits/);
    expect(message).not.toMatch(/e5e973/);
  });
});
