// The bundle fetch fast path on the bare listener (src/prekeys/bundle-listener.ts): which
// requests it takes, and that what it answers is what the express route answers.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import { signRequest } from '@switchboard/http-signature';
import { expressServer } from '@switchboard/service-kit';
import { bundleListener } from '../src/prekeys/bundle-listener.js';
import { fetchBundle as fetchBundleOf } from '../src/prekeys/prekeys.js';
import { fail } from '../src/core/errors.js';
import type { Answer, TestProvider } from './helpers.js';
import {
  NUMBERS,
  call,
  fetchBundle,
  makeClientKeys,
  makeDiscoverable,
  register,
  startTestProvider,
} from './helpers.js';

describe('bundle fetch fast path: the requests it takes', () => {
  let server: Server;
  let url: string;
  const failed = new WeakMap<IncomingMessage, unknown>();
  const fetched: string[] = [];
  const start = async (serve: (app: express.Express, l: RequestListener) => Server) => {
    const app = express();
    app.use((req, res) => {
      res.json({ by: 'app', failed: failed.has(req) ? String(failed.get(req)) : null });
    });
    const listener = bundleListener({
      requestPrototype: app.request,
      fetch: (_req, address) => {
        fetched.push(address);
        return address === 'fail' ? Promise.reject(new Error('boom')) : Promise.resolve('{}');
      },
      served: () => undefined,
      app,
      failed,
    });
    server = serve(app, listener);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  afterEach(async () => {
    fetched.length = 0;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const by = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, init);
    const text = await res.text();
    return text === '{}' ? 'fast' : (JSON.parse(text) as unknown);
  };

  it('serves exact GETs without a body or certificate, and leaves the rest to the app', async () => {
    await start((app, l) => expressServer(app, l));
    const app = { by: 'app', failed: null };
    expect(await by('/v1/keys/bundles/%2B442079460958')).toBe('fast');
    expect(await by(`/v1/keys/bundles/${'a'.repeat(64)}`)).toBe('fast');
    expect(fetched).toEqual(['+442079460958', 'a'.repeat(64)]);
    expect(await by(`/v1/keys/bundles/${'a'.repeat(65)}`)).toEqual(app);
    expect(await by('/v1/keys/bundles/x/')).toEqual(app);
    expect(await by('/v1/keys/bundles/x?y=1')).toEqual(app);
    expect(await by('/v1/keys/bundles/%E0%A4%A')).toEqual(app);
    expect(await by('/v1/keys/bundles/x', { method: 'POST', body: '' })).toEqual(app);
    expect(await by('/v1/keys/bundles/x', { method: 'PUT', body: '{}' })).toEqual(app);
    expect(await by('/v1/keys/bundles/x', { headers: { 'sender-certificate': 'a.b' } })).toEqual(
      app,
    );
    expect(fetched).toHaveLength(2);
  });

  it('hands a failed fetch to the app with its error', async () => {
    await start((app, l) => expressServer(app, l));
    expect(await by('/v1/keys/bundles/fail')).toEqual({ by: 'app', failed: 'Error: boom' });
  });

  it('takes no request a server made without the app prototypes', async () => {
    await start((_app, l) => createServer(l));
    expect(await by('/v1/keys/bundles/x')).toEqual({ by: 'app', failed: null });
    expect(fetched).toEqual([]);
  });
});

/** The headers of an answer that do not depend on the moment or the body's bytes. */
const stableHeaders = (a: Answer): Record<string, string> => {
  const out: Record<string, string> = {};
  a.headers.forEach((value, name) => {
    if (!['date', 'etag', 'content-length', 'keep-alive', 'connection'].includes(name)) {
      out[name] = value;
    }
  });
  return out;
};

describe.each(ALL_DIALECTS)('bundle fetch fast path against the express route (%s)', (dialect) => {
  let p: TestProvider;
  afterEach(async () => {
    await p.close();
  });

  it('answers fetches and their problems as the route does', async () => {
    p = await startTestProvider(dialect);
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(10, 10));
    const bob = await register(p, NUMBERS[1]!, makeClientKeys(1, 1));
    const carol = await register(p, NUMBERS[2]!, makeClientKeys(1, 1));
    await makeDiscoverable(p, alice);
    const asker = { signer: bob.signer };
    const path = `/v1/keys/bundles/${alice.accountId}`;
    // The fast path serves `path`; express alone serves it with a trailing slash (same route).
    const fast = await fetchBundle(p, alice.accountId, asker);
    const routed = await call(p, 'GET', `${path}/`, undefined, { signer: carol.signer });
    expect([fast.status, routed.status]).toEqual([200, 200]);
    expect(stableHeaders(fast)).toEqual(stableHeaders(routed));
    expect(fast.headers.get('cache-control')).toBe('no-store');
    // Each a one-time key of its own, the lowest first.
    expect([fast.json.preKey.keyId, routed.json.preKey.keyId]).toEqual([1, 2]);
    expect(Object.keys(fast.json)).toEqual(Object.keys(routed.json));
    for (const suffix of ['', '/']) {
      const unsigned = await call(p, 'GET', `${path}${suffix}`);
      expect([unsigned.status, unsigned.json.code]).toEqual([401, 'auth.missing']);
      const missing = `/v1/keys/bundles/${randomUUID()}${suffix}`;
      const notFound = await call(p, 'GET', missing, undefined, asker);
      expect([notFound.status, notFound.json.code]).toEqual([404, 'account.not-found']);
      expect(notFound.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(notFound.headers.get('x-content-type-options')).toBe('nosniff');
    }
    // The same signed request twice: refused the second time, by the fast path as by the route.
    const headers = signRequest({
      method: 'GET',
      url: path,
      keyId: bob.accountId,
      privateKey: bob.signer.privateKey,
      now: p.clock.now / 1000,
    });
    const first = await fetch(`${p.url}${path}`, { headers });
    const again = await fetch(`${p.url}${path}`, { headers });
    expect([first.status, again.status]).toEqual([200, 401]);
    expect(((await again.json()) as { code: string }).code).toBe('auth.replayed');
  });

  it('checks each credential in its own fetch: bad ones sent together fail alone', async () => {
    p = await startTestProvider(dialect);
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(10, 10));
    const bob = await register(p, NUMBERS[1]!, makeClientKeys(1, 1));
    const carol = await register(p, NUMBERS[2]!, makeClientKeys(1, 1));
    await makeDiscoverable(p, alice);
    const path = `/v1/keys/bundles/${alice.accountId}`;
    const signed = (keyId: string, signer: typeof bob.signer) =>
      signRequest({
        method: 'GET',
        url: path,
        keyId,
        privateKey: signer.privateKey,
        now: p.clock.now / 1000,
      });
    // Sent at once (on SQLite, units of one turn share a transaction): bob's key id signed with
    // carol's key, an unknown key id, a signature that is not base64, and two good ones.
    const requests = [
      signed(bob.accountId, bob.signer),
      signed(bob.accountId, carol.signer),
      signed(randomUUID(), bob.signer),
      { ...signed(carol.accountId, carol.signer), signature: 'sb=:not base64!:' },
      signed(carol.accountId, carol.signer),
    ];
    const answers = await Promise.all(
      requests.map(async (headers) => {
        const res = await fetch(`${p.url}${path}`, { headers });
        return [res.status, ((await res.json()) as { code?: string }).code ?? 'ok'];
      }),
    );
    expect(answers).toEqual([
      [200, 'ok'],
      [401, 'auth.invalid'],
      [401, 'auth.invalid'],
      [401, 'auth.invalid'],
      [200, 'ok'],
    ]);
    // Started in one turn (one batch on SQLite): checks that refuse or throw fail only their own.
    const fetchAs = (check: () => unknown) =>
      fetchBundleOf(
        p.deps,
        alice.accountId,
        'test-client',
        async (nonce) => {
          check();
          nonce.remember(bob.accountId, randomUUID(), p.clock.now + 300_000);
          return {
            id: `${p.deps.config.providerId}/${bob.accountId}`,
            localAccountId: bob.accountId,
          };
        },
        { checkInUnit: true },
      ).then(
        (bundle) => bundle.accountId,
        (err: unknown) => String(err),
      );
    const outcomes = await Promise.all([
      fetchAs(() => undefined),
      fetchAs(() => {
        throw fail('auth.invalid', 'refused');
      }),
      fetchAs(() => {
        throw new TypeError('malformed');
      }),
      fetchAs(() => undefined),
    ]);
    expect(outcomes[0]).toBe(alice.accountId);
    expect(outcomes[1]).toMatch(/refused/);
    expect(outcomes[2]).toBe('TypeError: malformed');
    expect(outcomes[3]).toBe(alice.accountId);
  });
});
