import type { Database } from '@switchboard/db';
import { openDatabase } from '@switchboard/db';
import type { SwitchboardBridge } from '../src/bridge.js';
import { makeBridge } from './support/bridge.js';

// Issue 14 item 9: the bridge's HTTP port (Application Service API, /health) under hostile input.
describe('bridge HTTP port under hostile input', () => {
  const hsToken = 'hs-token-0123456789abcdef';
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  beforeAll(async () => {
    database = await openDatabase<unknown>({ url: 'sqlite::memory:' });
    bridge = await makeBridge(
      {
        matrix: {
          // Nothing listens there: the bridge keeps probing; this test needs only its AS port.
          homeserverUrl: 'http://127.0.0.1:9',
          domain: 'hs.test',
          asToken: 'as-token-0123456789abcdef',
          hsToken,
        },
      },
      database,
    );
    await bridge.start();
  });
  afterAll(async () => {
    await bridge.stop();
    await database.close();
  });

  const put = (body: string, token?: string): Promise<Response> =>
    fetch(`${bridge.httpUrl}/_matrix/app/v1/transactions/t-${Math.random()}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body,
    });

  it('answers a body that is not JSON with a Matrix error, not a stack trace page', async () => {
    // Without the token the body is not even read.
    const answers = [
      {
        token: undefined,
        status: 401,
        errcode: 'M_UNAUTHORIZED',
        error: 'missing homeserver token',
      },
      { token: hsToken, status: 400, errcode: 'M_NOT_JSON', error: 'the body is not valid JSON' },
    ];
    for (const { token, status, errcode, error } of answers) {
      const res = await put('{"events":', token);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ errcode, error });
      expect(text).not.toMatch(/node_modules|SyntaxError|at /);
    }
  });

  it('survives deeply nested bodies: refused without the token, acknowledged with it', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect((await put(deep)).status).toBe(401);
    // An event whose content nests 20,000 deep (a remote Matrix user can send one): the bridge
    // reads fixed fields only, so it is acknowledged like any other transaction, not retried.
    const content = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const event = `{"type":"m.room.message","room_id":"!r:hs.test","sender":"@u:hs.test","event_id":"$e","content":${content}}`;
    const res = await put(`{"events":[${event}]}`, hsToken);
    expect(res.status).toBe(200);
    expect((await fetch(`${bridge.httpUrl}/health`)).status).toBe(503);
  });
});
