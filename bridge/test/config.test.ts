import { parseBridgeConfig } from '../src/config.js';

describe('bridge config', () => {
  it('fills defaults: plaintext relay off, AS endpoint on 127.0.0.1:9000', () => {
    const c = parseBridgeConfig({ databaseUrl: 'sqlite::memory:' });
    expect(c.plaintextRelay).toBe(false);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(c.xmpp).toBeUndefined();
  });

  it('names the wrong field and never echoes secrets', () => {
    let message = '';
    try {
      parseBridgeConfig({
        databaseUrl: 'x',
        xmpp: {
          service: 'http://x',
          domain: 'd',
          secret: 'supersecretvalue',
          reconnectDelayMs: 500,
        },
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/\/xmpp\/service/);
    expect(message).not.toContain('supersecretvalue');
    expect(() => parseBridgeConfig({ databaseUrl: 'x', unknown: 1 })).toThrow(/additional/);
  });

  it('puts the Matrix bot outside the ghost namespace and refuses a bot inside it', () => {
    const matrix = {
      homeserverUrl: 'http://127.0.0.1:8008',
      domain: 'hs.test',
      asToken: 'as-token-0123456789',
      hsToken: 'hs-token-0123456789',
    };
    const c = parseBridgeConfig({ databaseUrl: 'x', matrix });
    expect(c.matrix?.senderLocalpart.startsWith(c.matrix.ghostPrefix)).toBe(false);
    expect(() =>
      parseBridgeConfig({
        databaseUrl: 'x',
        matrix: { ...matrix, senderLocalpart: '_switchboard_bot' },
      }),
    ).toThrow(/senderLocalpart must not start with \/matrix\/ghostPrefix/);
    expect(() =>
      parseBridgeConfig({
        databaseUrl: 'x',
        matrix: { ...matrix, senderLocalpart: 'bridge', ghostPrefix: 'b' },
      }),
    ).toThrow(/ghost namespace/);
  });
});
