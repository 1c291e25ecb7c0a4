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
});
