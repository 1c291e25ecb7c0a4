// Issue 14 item 4: one-time prekeys cannot be drained by strangers; bundle fetches need a
// credential of the asker, are limited per asker and per asker and target, and accounts that
// are not discoverable are not served to strangers.
import { generateKeyPairSync } from 'node:crypto';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import { signRequest } from '@switchboard/http-signature';
import { defaultProviderConfig } from '../src/core/config.js';
import type { ProviderConfig } from '../src/core/config.js';
import type { ProviderDeps } from '../src/core/deps.js';
import type { Registered, TestProvider } from './helpers.js';
import {
  NUMBERS,
  call,
  fetchBundle,
  makeClientKeys,
  makeDiscoverable,
  register,
  remoteAsker,
  startTestProvider,
} from './helpers.js';
import { countPrekeys } from '../src/prekeys/prekeys.js';

describe.each(ALL_DIALECTS)('prekey bundles against strangers (%s)', (dialect) => {
  let p: TestProvider;
  afterEach(async () => {
    await p.close();
  });

  const start = async (prekeys: Partial<ProviderConfig['prekeys']> = {}): Promise<void> => {
    p = await startTestProvider(dialect, {
      prekeys: { ...defaultProviderConfig().prekeys, ...prekeys },
    });
  };
  const left = (account: Registered) => countPrekeys(p.deps, account.accountId);

  it("a stranger cannot drain a user's one-time prekeys", async () => {
    await start();
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(100, 20));
    await makeDiscoverable(p, alice);
    const unsigned = await call(p, 'GET', `/v1/keys/bundles/${alice.accountId}`);
    expect([unsigned.status, unsigned.json.code]).toEqual([401, 'auth.missing']);
    // The attack of the report: a fetch a second for two minutes, then again for hours.
    const stranger = remoteAsker(p, 3 * 3600);
    const seen = { ok: 0, limited: 0, oneTime: 0 };
    for (let i = 0; i < 240; i++) {
      p.clock.now += i < 120 ? 1000 : 60_000;
      const r = await fetchBundle(p, alice.accountId, stranger);
      if (r.status === 429) seen.limited++;
      if (r.status !== 200) continue;
      seen.ok++;
      if (r.json.preKey || !r.json.kyberLastResort) seen.oneTime++;
    }
    expect(seen.limited).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(10);
    expect(seen.oneTime).toBe(1);
    expect(await left(alice)).toEqual({ oneTimePreKeys: 99, oneTimeKyberPreKeys: 19 });
  });

  it('serves the last-resort key to a returning asker once the one-time keys run low', async () => {
    await start({ oneTimeKeysPerPairSeconds: 60, reservedOneTimeKeys: 10 });
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(14, 14));
    await makeDiscoverable(p, alice);
    const asker = remoteAsker(p);
    for (let i = 0; i < 10; i++) {
      p.clock.now += 61_000;
      expect((await fetchBundle(p, alice.accountId, asker)).status).toBe(200);
    }
    expect(await left(alice)).toEqual({ oneTimePreKeys: 10, oneTimeKyberPreKeys: 10 });
    const last = await fetchBundle(p, alice.accountId, asker);
    expect(last.json.kyberLastResort).toBe(true);
    // A first-time asker still gets one-time keys.
    const fresh = await fetchBundle(p, alice.accountId, remoteAsker(p));
    expect(fresh.json.kyberLastResort).toBe(false);
    expect(fresh.json.preKey).toBeDefined();
  });

  it('bounds the one-time keys all the askers of one other provider take from a target', async () => {
    await start({ oneTimeKeysPerIssuerAndTarget: { capacity: 3, perSeconds: 24 * 3600 } });
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(20, 20));
    const carol = await register(p, NUMBERS[2]!, makeClientKeys(1, 1));
    await makeDiscoverable(p, alice);
    const lastResort: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetchBundle(p, alice.accountId, remoteAsker(p));
      expect(r.status).toBe(200);
      lastResort.push(r.json.kyberLastResort);
    }
    expect(lastResort).toEqual([false, false, false, true, true]);
    // Accounts here are not counted against provider-b.
    expect((await fetchBundle(p, alice.accountId, carol)).json.kyberLastResort).toBe(false);
    expect(await left(alice)).toEqual({ oneTimePreKeys: 16, oneTimeKyberPreKeys: 16 });
  });

  it('does not serve an account that is not discoverable to strangers', async () => {
    await start();
    const bob = await register(p, NUMBERS[1]!, makeClientKeys(5, 2));
    const carol = await register(p, NUMBERS[2]!, makeClientKeys(5, 2));
    const early = remoteAsker(p);
    // A stranger, at this provider or another one, is told there is no such account.
    for (const asker of [remoteAsker(p), carol]) {
      const r = await fetchBundle(p, bob.accountId, asker);
      expect([r.status, r.json.code]).toEqual([404, 'account.not-found']);
    }
    expect(await left(bob)).toEqual({ oneTimePreKeys: 5, oneTimeKyberPreKeys: 2 });
    // Anyone may fetch while bob is discoverable; those who did stay contacts afterwards.
    await makeDiscoverable(p, bob);
    expect((await fetchBundle(p, bob.accountId, early)).status).toBe(200);
    const off = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: false },
      { signer: bob.signer },
    );
    expect(off.status).toBe(200);
    expect((await fetchBundle(p, bob.accountId, early)).status).toBe(200);
    expect((await fetchBundle(p, bob.accountId, remoteAsker(p))).status).toBe(404);
    // Carol becomes a contact when bob fetches her bundle (she is discoverable).
    await makeDiscoverable(p, carol);
    expect((await fetchBundle(p, carol.accountId, bob)).status).toBe(200);
    expect((await fetchBundle(p, bob.accountId, carol)).status).toBe(200);
    // Bob may always fetch his own.
    expect((await fetchBundle(p, bob.accountId, bob)).status).toBe(200);
  });

  it('refuses a replayed fetch before it takes a key or records a contact', async () => {
    await start();
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(10, 10));
    const carol = await register(p, NUMBERS[2]!, makeClientKeys(1, 1));
    await makeDiscoverable(p, alice);
    const path = `/v1/keys/bundles/${alice.accountId}`;
    const signed = (nonce?: string): Record<string, string> =>
      signRequest({
        method: 'GET',
        url: path,
        body: '',
        ...carol.signer,
        now: p.clock.now / 1000,
        ...(nonce === undefined ? {} : { nonce }),
      });
    const send = async (headers: Record<string, string>) => {
      const res = await fetch(`${p.url}${path}`, { headers });
      return [res.status, ((await res.json()) as { code?: string }).code];
    };
    // A nonce carol's device used before: refused, no key taken, no contact recorded.
    await p.deps.replayCache.remember(carol.signer.keyId, 'used-nonce', p.clock.now + 300_000);
    expect(await send(signed('used-nonce'))).toEqual([401, 'auth.replayed']);
    expect(await left(alice)).toEqual({ oneTimePreKeys: 10, oneTimeKyberPreKeys: 10 });
    const contacts = () =>
      p.deps.db
        .selectFrom('prekey_contacts')
        .select('asker')
        .where('target_id', '=', alice.accountId)
        .execute();
    expect(await contacts()).toEqual([]);
    // One signed request sent four times at once (on SQLite, one batch): served once.
    const headers = signed();
    const answers = await Promise.all([0, 1, 2, 3].map(() => send(headers)));
    expect(answers.map(([status]) => status).sort()).toEqual([200, 401, 401, 401]);
    expect(await left(alice)).toEqual({ oneTimePreKeys: 9, oneTimeKyberPreKeys: 9 });
    expect(await contacts()).toHaveLength(1);
  });

  it('limits fetches per asker and per asker and target', async () => {
    await start({
      fetchPerAsker: { capacity: 3, perSeconds: 3600 },
      fetchPerAskerAndTarget: { capacity: 2, perSeconds: 3600 },
    });
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(5, 1));
    const bob = await register(p, NUMBERS[1]!, makeClientKeys(5, 1));
    await makeDiscoverable(p, alice);
    await makeDiscoverable(p, bob);
    const asker = remoteAsker(p);
    expect((await fetchBundle(p, alice.accountId, asker)).status).toBe(200);
    expect((await fetchBundle(p, alice.accountId, asker)).status).toBe(200);
    const pair = await fetchBundle(p, alice.accountId, asker);
    expect([pair.status, pair.json.code]).toEqual([429, 'rate.limited']);
    expect((await fetchBundle(p, bob.accountId, remoteAsker(p))).status).toBe(200);
    const overall = await fetchBundle(p, bob.accountId, asker);
    expect([overall.status, overall.json.code]).toEqual([429, 'rate.limited']);
  });

  it('accepts sender certificates of trusted providers only, with the key they name', async () => {
    await start();
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(5, 1));
    const bob = await register(p, NUMBERS[1]!, makeClientKeys(5, 1));
    await makeDiscoverable(p, alice);
    const issued = await call(p, 'POST', '/v1/account/sender-certificate', undefined, {
      signer: bob.signer,
    });
    expect(issued.status).toBe(201);
    expect(Date.parse(issued.json.expiresAt)).toBe(p.clock.now + 24 * 3600_000);
    const certificate = { 'sender-certificate': issued.json.certificate as string };
    expect((await fetchBundle(p, alice.accountId, bob, certificate)).status).toBe(200);

    const refused = async (asker: Parameters<typeof fetchBundle>[2]): Promise<unknown> => {
      const r = await fetchBundle(p, alice.accountId, asker);
      return [r.status, r.json.code];
    };
    const remote = remoteAsker(p);
    // Signed by another key than the certified one.
    expect(await refused({ ...remote, signer: { ...remote.signer, ...bob.signer } })).toEqual([
      401,
      'auth.invalid',
    ]);
    // Issued by a provider that is not in the trust list (provider-b's key, another name).
    const [body, sig] = remote.headers['sender-certificate']!.split('.');
    const renamed = Buffer.from(body!, 'base64url').toString().replace('provider-b', 'provider-x');
    const forged = `${Buffer.from(renamed).toString('base64url')}.${sig}`;
    expect(await refused({ ...remote, headers: { 'sender-certificate': forged } })).toEqual([
      401,
      'auth.invalid',
    ]);
    expect(
      await refused({ ...remote, headers: { 'sender-certificate': 'bm9wZQ.bm9wZQ' } }),
    ).toEqual([401, 'auth.invalid']);
    // Expired.
    p.clock.now += 3601_000;
    expect(await refused(remote)).toEqual([401, 'auth.invalid']);
  });

  it('checks a sender certificate it verified before against the trust list of now', async () => {
    await start();
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(5, 1));
    await makeDiscoverable(p, alice);
    const remote = remoteAsker(p);
    // Verified once, then remembered: the same certificate again is served as well.
    expect((await fetchBundle(p, alice.accountId, remote)).status).toBe(200);
    expect((await fetchBundle(p, alice.accountId, remote)).status).toBe(200);
    // The same certificate with its signature altered is not the remembered one.
    const [body, sig] = remote.headers['sender-certificate']!.split('.');
    const bytes = Buffer.from(sig!, 'base64url');
    bytes[0] = bytes[0]! ^ 1;
    const altered = {
      ...remote,
      headers: { 'sender-certificate': `${body}.${bytes.toString('base64url')}` },
    };
    const r = await fetchBundle(p, alice.accountId, altered);
    expect([r.status, r.json.code]).toEqual([401, 'auth.invalid']);
    // provider-b leaves the trust list (or rotates its key): what it certified is refused now.
    const deps = p.deps as { providerKeys?: ProviderDeps['providerKeys'] };
    const trusted = deps.providerKeys;
    deps.providerKeys = (id) => (id === 'provider-b' ? [] : trusted?.(id));
    const left = await fetchBundle(p, alice.accountId, remote);
    expect([left.status, left.json.code]).toEqual([401, 'auth.invalid']);
    deps.providerKeys = (id) =>
      id === 'provider-b' ? [generateKeyPairSync('ed25519').publicKey] : trusted?.(id);
    const rotated = await fetchBundle(p, alice.accountId, remote);
    expect([rotated.status, rotated.json.code]).toEqual([401, 'auth.invalid']);
    deps.providerKeys = trusted;
    expect((await fetchBundle(p, alice.accountId, remote)).status).toBe(200);
  });
});
