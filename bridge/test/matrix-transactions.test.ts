import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES, transactionListener } from '../src/networks/matrix-transactions.js';

// The transaction pushes served without express: each answer as the express route gives it,
// and everything the fast path does not take handed on untouched.
describe('transactionListener', () => {
  const hsToken = 'hs-token-0123456789abcdef';
  const seen: { txnId: string; body: Record<string, unknown> }[] = [];
  const fallbackUrls: string[] = [];
  let failNext = false;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const handler = async (txnId: string, body: Record<string, unknown>): Promise<void> => {
      await Promise.resolve();
      if (failNext) {
        failNext = false;
        throw new Error('store down');
      }
      seen.push({ txnId, body });
    };
    server = createServer(
      transactionListener(hsToken, handler, (req, res) => {
        fallbackUrls.push(`${req.method} ${req.url}`);
        req.resume();
        res.writeHead(299).end();
      }),
    );
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });
  beforeEach(() => {
    seen.length = 0;
    fallbackUrls.length = 0;
  });

  const put = async (
    path: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${base}${path}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${hsToken}`,
        ...headers,
      },
      body,
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  };

  it('records a transaction on each path a homeserver uses, then answers 200 {}', async () => {
    const paths = [
      '/_matrix/app/v1/transactions/t%2F1',
      '/_matrix/app/v1/_matrix/app/v1/transactions/t2',
      '/transactions/t3',
    ];
    for (const path of paths) {
      expect(await put(path, '{"events":[{"event_id":"$e"}]}')).toEqual({ status: 200, json: {} });
    }
    expect(seen.map((s) => s.txnId)).toEqual(['t/1', 't2', 't3']);
    expect(seen[0]?.body).toEqual({ events: [{ event_id: '$e' }] });
    expect(fallbackUrls).toEqual([]);
  });

  it('checks the token before the body', async () => {
    const missing = await put('/transactions/a', '{', { authorization: '' });
    expect(missing).toEqual({
      status: 401,
      json: { errcode: 'M_UNAUTHORIZED', error: 'missing homeserver token' },
    });
    const wrong = await put('/transactions/a', '{', { authorization: 'Bearer nope' });
    expect(wrong).toEqual({
      status: 403,
      json: { errcode: 'M_FORBIDDEN', error: 'bad homeserver token' },
    });
    expect(seen).toEqual([]);
  });

  it('refuses what is not a JSON object, takes an empty body as {}', async () => {
    const notJson = { errcode: 'M_NOT_JSON', error: 'the body is not valid JSON' };
    const badJson = { errcode: 'M_BAD_JSON', error: 'transaction body must be an object' };
    expect(await put('/transactions/a', '{"events":')).toEqual({ status: 400, json: notJson });
    expect(await put('/transactions/a', ' "text"')).toEqual({ status: 400, json: notJson });
    expect(await put('/transactions/a', '[1]')).toEqual({ status: 400, json: badJson });
    expect(await put('/transactions/b', '')).toEqual({ status: 200, json: {} });
    expect(seen).toEqual([{ txnId: 'b', body: {} }]);
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    const tooLarge = { errcode: 'M_TOO_LARGE', error: 'the body is too large' };
    const big = `{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    expect(await put('/transactions/a', big)).toEqual({ status: 413, json: tooLarge });
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res = await fetch(`${base}/transactions/a`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hsToken}` },
      body: streamed,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual(tooLarge);
    expect(seen).toEqual([]);
  });

  it('answers 500 when the transaction was not recorded (the homeserver retries)', async () => {
    failNext = true;
    expect(await put('/transactions/a', '{}')).toEqual({
      status: 500,
      json: { errcode: 'M_UNKNOWN', error: 'transaction not processed; retry' },
    });
  });

  it('hands on what the express route must answer: query tokens, other types, other paths', async () => {
    await put(`/transactions/q?access_token=${hsToken}`, '{}', { authorization: '' });
    await put('/transactions/c', '{}', { 'content-type': 'text/plain' });
    await put('/transactions/g', '{}', { 'content-encoding': 'gzip' });
    await put('/_matrix/app/v1/transactions/x/', '{}');
    await put('/_matrix/app/v1/users/x', '{}');
    expect(fallbackUrls).toEqual([
      `PUT /transactions/q?access_token=${hsToken}`,
      'PUT /transactions/c',
      'PUT /transactions/g',
      'PUT /_matrix/app/v1/transactions/x/',
      'PUT /_matrix/app/v1/users/x',
    ]);
    expect(seen).toEqual([]);
  });
});
