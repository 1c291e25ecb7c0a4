import { KEMPublicKey, PreKeyBundle, PublicKey } from '@signalapp/libsignal-client';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { TestProvider } from './helpers.js';
import {
  NUMBERS,
  call,
  fetchBundle,
  makeClientKeys,
  makeDiscoverable,
  remoteAsker,
  register,
  verifyNumber,
  startTestProvider,
} from './helpers.js';
import { DirectoryPublishError } from '../src/core/directory-client.js';
import { reconcileDirectory } from '../src/accounts/accounts.js';
import { countPrekeys, sweepTakenPreKeys, takeOneTimePreKeys } from '../src/prekeys/prekeys.js';
import { SqliteGroupCommit } from '../src/store/group-commit.js';

const fromB64 = (s: string): Uint8Array<ArrayBuffer> => {
  const b = Buffer.from(s, 'base64');
  const out = new Uint8Array(new ArrayBuffer(b.length));
  out.set(b);
  return out;
};

describe.each(ALL_DIALECTS)('registration, keys and publishing (%s)', (dialect) => {
  let p: TestProvider;
  beforeEach(async () => {
    p = await startTestProvider(dialect);
  });
  afterEach(async () => {
    await p.close();
  });

  // Key rows: taken ones are deleted by the sweep (SQLite keeps them below a cursor until then).
  const counts = async () => {
    const db = p.deps.db;
    await sweepTakenPreKeys(db);
    const a = await db.selectFrom('accounts').select('id').execute();
    const k = await db.selectFrom('one_time_prekeys').select('id').execute();
    return { accounts: a.length, prekeys: k.length };
  };

  it('registers atomically and serves a bundle libsignal accepts', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(3, 1));
    expect(await counts()).toEqual({ accounts: 1, prekeys: 4 });
    const me = await call(p, 'GET', '/v1/account', undefined, { signer: alice.signer });
    expect(me.json).toMatchObject({
      accountId: alice.accountId,
      number: NUMBERS[0],
      discoverable: false,
    });

    const b = await fetchBundle(p, alice.accountId, alice);
    expect(b.status).toBe(200);
    expect(b.json.kyberLastResort).toBe(false);
    // One-time keys: never cached, and no ETag to revalidate against.
    expect(b.headers.get('cache-control')).toBe('no-store');
    expect(b.headers.get('etag')).toBeNull();
    expect(b.headers.get('content-type')).toMatch(/^application\/json/);
    const bundle = PreKeyBundle.new(
      b.json.registrationId,
      b.json.deviceId,
      b.json.preKey.keyId,
      PublicKey.deserialize(fromB64(b.json.preKey.publicKey)),
      b.json.signedPreKey.keyId,
      PublicKey.deserialize(fromB64(b.json.signedPreKey.publicKey)),
      fromB64(b.json.signedPreKey.signature),
      PublicKey.deserialize(fromB64(b.json.identityKey)),
      b.json.kyberPreKey.keyId,
      KEMPublicKey.deserialize(fromB64(b.json.kyberPreKey.publicKey)),
      fromB64(b.json.kyberPreKey.signature),
    );
    expect(bundle.identityKey().serialize()).toEqual(alice.keys.identity.publicKey.serialize());
    expect(alice.keys.oneTimePrivate.has(b.json.preKey.keyId)).toBe(true);
    const c = await call(p, 'GET', '/v1/keys/count', undefined, { signer: alice.signer });
    expect(c.json).toEqual({ oneTimePreKeys: 2, oneTimeKyberPreKeys: 0 });
  });

  it('refuses bad keys with specific errors and stores nothing', async () => {
    const cases: Array<
      [string, (r: ReturnType<typeof makeClientKeys>['registration']) => unknown, string]
    > = [
      [
        'identity',
        (r) => ({ ...r, identityKey: Buffer.alloc(33, 7).toString('base64') }),
        'keys.identity-key-invalid',
      ],
      [
        'signed prekey signature',
        (r) => ({
          ...r,
          signedPreKey: { ...r.signedPreKey, signature: Buffer.alloc(64, 1).toString('base64') },
        }),
        'keys.signed-prekey-signature-invalid',
      ],
      [
        'signed prekey by another identity',
        (r) => ({ ...r, signedPreKey: makeClientKeys(0, 0).registration.signedPreKey }),
        'keys.signed-prekey-signature-invalid',
      ],
      [
        'kyber signature',
        (r) => ({
          ...r,
          kyberLastResortPreKey: {
            ...r.kyberLastResortPreKey,
            signature: r.signedPreKey.signature,
          },
        }),
        'keys.kyber-prekey-signature-invalid',
      ],
      [
        'kyber key',
        (r) => ({
          ...r,
          kyberLastResortPreKey: { ...r.kyberLastResortPreKey, publicKey: r.identityKey },
        }),
        'keys.kyber-prekey-invalid',
      ],
      [
        'one-time prekey',
        (r) => ({
          ...r,
          oneTimePreKeys: [{ keyId: 1, publicKey: Buffer.alloc(33, 9).toString('base64') }],
        }),
        'keys.one-time-prekey-invalid',
      ],
      [
        'duplicate ids',
        (r) => ({
          ...r,
          oneTimePreKeys: [
            r.oneTimePreKeys[0],
            { ...r.oneTimePreKeys[1], keyId: r.oneTimePreKeys[0]!.keyId },
          ],
        }),
        'keys.duplicate-key-id',
      ],
      [
        'device key',
        (r) => ({ ...r, deviceKey: Buffer.alloc(31, 1).toString('base64') }),
        'keys.device-key-invalid',
      ],
    ];
    for (const [, mutate, code] of cases) {
      p.clock.now += 3600_000; // stay within the per-number verification limit
      const sessionId = await verifyNumber(p, NUMBERS[1]!);
      const r = await call(p, 'POST', '/v1/accounts', {
        sessionId,
        ...(mutate(makeClientKeys(2, 1).registration) as object),
      });
      expect([r.status, r.json.code]).toEqual([422, code]);
    }
    expect(await counts()).toEqual({ accounts: 0, prekeys: 0 });
  });

  it('requires a verified, unused session', async () => {
    const keys = makeClientKeys(1, 0);
    const created = await call(p, 'POST', '/v1/verification/sessions', { number: NUMBERS[0] });
    const unverified = await call(p, 'POST', '/v1/accounts', {
      sessionId: created.json.sessionId,
      ...keys.registration,
    });
    expect([unverified.status, unverified.json.code]).toEqual([403, 'verification.not-verified']);
    const sessionId = await verifyNumber(p, NUMBERS[0]!);
    expect(
      (await call(p, 'POST', '/v1/accounts', { sessionId, ...keys.registration })).status,
    ).toBe(201);
    const again = await call(p, 'POST', '/v1/accounts', { sessionId, ...keys.registration });
    expect([again.status, again.json.code]).toEqual([404, 'verification.session-not-found']);
  });

  it('re-registering a number replaces the old account and its keys', async () => {
    const first = await register(p, NUMBERS[0]!, makeClientKeys(3, 0));
    const second = await register(p, NUMBERS[0]!, makeClientKeys(2, 0));
    expect(second.accountId).not.toBe(first.accountId);
    expect(await counts()).toEqual({ accounts: 1, prekeys: 2 });
    const old = await call(p, 'GET', '/v1/account', undefined, { signer: first.signer });
    expect([old.status, old.json.code]).toEqual([401, 'auth.invalid']);
  });

  it('never hands out the same one-time prekey twice under concurrent fetches', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(20, 5));
    await makeDiscoverable(p, alice);
    const results = await Promise.all(
      Array.from({ length: 40 }, () => fetchBundle(p, alice.accountId, remoteAsker(p))),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const ec = results.map((r) => r.json.preKey?.keyId).filter((id) => id !== undefined);
    expect(ec).toHaveLength(20);
    expect(new Set(ec).size).toBe(20);
    const kyber = results
      .filter((r) => !r.json.kyberLastResort)
      .map((r) => r.json.kyberPreKey.keyId);
    expect(new Set(kyber).size).toBe(5);
    expect(kyber).toHaveLength(5);
    const lastResort = results.filter((r) => r.json.kyberLastResort);
    expect(lastResort).toHaveLength(35);
    expect(new Set(lastResort.map((r) => r.json.kyberPreKey.keyId))).toEqual(new Set([9]));
    expect(await counts()).toEqual({ accounts: 1, prekeys: 0 });
  });

  it('fetches that arrive together take their keys in one SQLite transaction (group commit)', async () => {
    if (dialect !== 'sqlite') return;
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(6, 6));
    const bob = await register(p, NUMBERS[1]!, makeClientKeys(3, 1));
    const commit = new SqliteGroupCommit(p.deps.db);
    const take = (account: string) => commit.run((db) => takeOneTimePreKeys(p.deps, account, db));
    let begins = 0;
    const original = p.deps.db.transaction.bind(p.deps.db);
    p.deps.db.transaction = () => {
      begins++;
      return original();
    };
    try {
      const takes = await Promise.all([
        ...Array.from({ length: 8 }, () => take(alice.accountId)),
        ...Array.from({ length: 3 }, () => take(bob.accountId)),
      ]);
      expect(begins).toBe(1);
      const ec = (rows: (typeof takes)[number][]) =>
        rows.flatMap((r) => r.filter((k) => k.kind === 'ec').map((k) => k.key_id));
      // Lowest first; a fetch after the last key gets none, never a key twice.
      expect(ec(takes.slice(0, 8))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(ec(takes.slice(8))).toEqual([1, 2, 3]);
      expect(takes.slice(0, 8).map((r) => r.length)).toEqual([2, 2, 2, 2, 2, 2, 0, 0]);
      expect(takes.slice(8).map((r) => r.length)).toEqual([2, 1, 1]);
      // A lone take runs in a transaction of its own.
      expect(await take(bob.accountId)).toEqual([]);
      expect(begins).toBe(2);
      expect(await counts()).toEqual({ accounts: 2, prekeys: 0 });
    } finally {
      p.deps.db.transaction = original;
    }
  });

  it('hands out one-time prekeys lowest key id first, whenever they were uploaded', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(2, 0, 50));
    await makeDiscoverable(p, alice);
    const lower = makeClientKeys(2, 0, 10);
    const up = await call(
      p,
      'PUT',
      '/v1/keys',
      { oneTimePreKeys: lower.registration.oneTimePreKeys },
      { signer: alice.signer },
    );
    expect(up.status).toBe(200);
    const ids: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const b = await fetchBundle(p, alice.accountId, remoteAsker(p));
      ids.push(b.json.preKey?.keyId);
    }
    expect(ids).toEqual([10, 11, 50, 51, undefined]);
  });

  it('takes keys past a cursor: an upload of lower ids after takes, counts, and the sweep', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(4, 2, 50));
    await makeDiscoverable(p, alice);
    const ecIds = async (n: number): Promise<unknown[]> => {
      const ids: unknown[] = [];
      for (let i = 0; i < n; i++) {
        ids.push((await fetchBundle(p, alice.accountId, remoteAsker(p))).json.preKey?.keyId);
      }
      return ids;
    };
    expect(await ecIds(2)).toEqual([50, 51]);
    expect(await countPrekeys(p.deps, alice.accountId)).toEqual({
      oneTimePreKeys: 2,
      oneTimeKyberPreKeys: 0,
    });
    // Lower ids than the keys taken so far, and one id equal to a taken key's.
    const lower = makeClientKeys(2, 0, 10);
    const again = makeClientKeys(1, 0, 50);
    const up = await call(
      p,
      'PUT',
      '/v1/keys',
      {
        oneTimePreKeys: [
          ...lower.registration.oneTimePreKeys,
          ...again.registration.oneTimePreKeys,
        ],
      },
      { signer: alice.signer },
    );
    expect(up.json).toEqual({ oneTimePreKeys: 5, oneTimeKyberPreKeys: 0 });
    expect(await ecIds(6)).toEqual([10, 11, 50, 52, 53, undefined]);
    // The key 50 handed out last is the one uploaded again, not the first one taken.
    expect(await countPrekeys(p.deps, alice.accountId)).toEqual({
      oneTimePreKeys: 0,
      oneTimeKyberPreKeys: 0,
    });
    expect(await counts()).toEqual({ accounts: 1, prekeys: 0 });
    expect(await sweepTakenPreKeys(p.deps.db)).toBe(0);
    // Registering the number again starts from its new keys, whatever was taken before.
    const again2 = await register(p, NUMBERS[0]!, makeClientKeys(2, 0, 1));
    await makeDiscoverable(p, again2);
    const fresh: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      fresh.push((await fetchBundle(p, again2.accountId, remoteAsker(p))).json.preKey?.keyId);
    }
    expect(fresh).toEqual([1, 2, undefined]);
  });

  it('sweeps taken keys in slices and keeps the ones not taken', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(7, 3));
    for (let i = 0; i < 5; i++) await takeOneTimePreKeys(p.deps, alice.accountId);
    const swept = await sweepTakenPreKeys(p.deps.db, 2);
    // SQLite deletes the 5 EC and 3 Kyber rows taken; PostgreSQL deleted them on each take.
    expect(swept).toBe(dialect === 'sqlite' ? 8 : 0);
    expect(await countPrekeys(p.deps, alice.accountId)).toEqual({
      oneTimePreKeys: 2,
      oneTimeKyberPreKeys: 0,
    });
    const left = await p.deps.db.selectFrom('one_time_prekeys').select('key_id').execute();
    expect(left.map((r) => r.key_id).sort()).toEqual([6, 7]);
    const next = await takeOneTimePreKeys(p.deps, alice.accountId);
    expect(next.map((k) => [k.kind, k.key_id])).toEqual([['ec', 6]]);
  });

  it('rate limits prekey fetches per target, however the target is spelled', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(0, 0));
    await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: [{ service: 'sip', uri: 'sip:alice@example.net' }] },
      { signer: alice.signer },
    );
    const spellings = [alice.accountId, NUMBERS[0]!, '+44 20 7946 0958', '+44-20-7946-0958'];
    const statuses: number[] = [];
    for (let i = 0; i < 62; i++) {
      const address = spellings[i % spellings.length]!;
      const ip = { 'x-forwarded-for': `10.2.0.${i}` };
      statuses.push((await fetchBundle(p, address, remoteAsker(p), ip)).status);
    }
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    const limited = await fetchBundle(p, alice.accountId, remoteAsker(p));
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    p.clock.now += 60_000;
    expect((await fetchBundle(p, alice.accountId, remoteAsker(p))).status).toBe(200);
  });

  it('rate limits prekey fetches per client address', async () => {
    const statuses: number[] = [];
    const asker = remoteAsker(p);
    for (let i = 0; i < 122; i++) {
      const address = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      statuses.push((await fetchBundle(p, address, asker)).status);
    }
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(statuses.filter((s) => s === 404)).toHaveLength(120);
  });

  it('tops up, rotates, counts and detects drift', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(2, 0));
    const more = makeClientKeys(3, 2, 100);
    // Keys signed by another identity are refused as a whole.
    const foreign = await call(
      p,
      'PUT',
      '/v1/keys',
      { oneTimeKyberPreKeys: more.registration.oneTimeKyberPreKeys },
      { signer: alice.signer },
    );
    expect([foreign.status, foreign.json.code]).toEqual([
      422,
      'keys.kyber-prekey-signature-invalid',
    ]);
    const up = await call(
      p,
      'PUT',
      '/v1/keys',
      { oneTimePreKeys: more.registration.oneTimePreKeys },
      { signer: alice.signer },
    );
    expect(up.json).toEqual({ oneTimePreKeys: 5, oneTimeKyberPreKeys: 0 });
    const dup = await call(
      p,
      'PUT',
      '/v1/keys',
      { oneTimePreKeys: more.registration.oneTimePreKeys.slice(0, 1) },
      { signer: alice.signer },
    );
    expect([dup.status, dup.json.code]).toEqual([422, 'keys.duplicate-key-id']);

    const { createHash } = await import('node:crypto');
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const r = alice.keys.registration;
    const digest = createHash('sha256')
      .update(Buffer.from(r.identityKey, 'base64'))
      .update(u32(r.signedPreKey.keyId))
      .update(Buffer.from(r.signedPreKey.publicKey, 'base64'))
      .update(u32(r.kyberLastResortPreKey.keyId))
      .update(Buffer.from(r.kyberLastResortPreKey.publicKey, 'base64'))
      .digest('base64');
    const same = await call(p, 'POST', '/v1/keys/check', { digest }, { signer: alice.signer });
    expect(same.json).toEqual({ matches: true });
    const differs = await call(
      p,
      'POST',
      '/v1/keys/check',
      { digest: Buffer.alloc(32).toString('base64') },
      { signer: alice.signer },
    );
    expect(differs.json).toEqual({ matches: false });
  });

  it('refuses unsigned, tampered and replayed device requests', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(0, 0));
    expect((await call(p, 'GET', '/v1/account')).json.code).toBe('auth.missing');
    const { signRequest } = await import('@switchboard/http-signature');
    const headers = signRequest({
      method: 'GET',
      url: '/v1/account',
      body: '',
      keyId: alice.accountId,
      privateKey: alice.keys.device.privateKey,
      now: p.clock.now / 1000,
    });
    const first = await fetch(`${p.url}/v1/account`, { headers });
    expect(first.status).toBe(200);
    const replay = await fetch(`${p.url}/v1/account`, { headers });
    expect(((await replay.json()) as { code: string }).code).toBe('auth.replayed');
    const other = makeClientKeys(0, 0);
    const forged = await call(p, 'GET', '/v1/account', undefined, {
      signer: { keyId: alice.accountId, privateKey: other.device.privateKey },
    });
    expect([forged.status, forged.json.code]).toEqual([401, 'auth.invalid']);
    p.clock.now += 1000;
    const stale = signRequest({
      method: 'GET',
      url: '/v1/account',
      body: '',
      keyId: alice.accountId,
      privateKey: alice.keys.device.privateKey,
      now: p.clock.now / 1000 - 600,
    });
    const s = await fetch(`${p.url}/v1/account`, { headers: stale });
    expect(((await s.json()) as { code: string }).code).toBe('auth.stale');
  });

  it('publishes the chosen contacts and identity key, withdraws on opt-out and delete', async () => {
    const alice = await register(p, NUMBERS[0]!, makeClientKeys(2, 1));
    const contacts = [
      { service: 'sip', uri: 'sip:alice@sip.example.net' },
      { service: 'matrix', uri: 'matrix:u/alice:example.net' },
    ];
    expect((await fetchBundle(p, NUMBERS[0]!, remoteAsker(p))).status).toBe(404);
    const on = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts },
      { signer: alice.signer },
    );
    expect(on.status).toBe(200);
    expect(on.json).toMatchObject({ discoverable: true, contacts });
    expect(p.directory.entries.get(NUMBERS[0]!)).toEqual({
      identityKey: alice.keys.registration.identityKey,
      contacts,
    });
    // Discoverable accounts can be fetched by number.
    expect((await fetchBundle(p, NUMBERS[0]!, remoteAsker(p))).status).toBe(200);

    const twice = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: [contacts[0], contacts[0]] },
      { signer: alice.signer },
    );
    expect(twice.status).toBe(400);

    // Issue 14: 199 characters but 569 octets, more than a DNS character-string holds; refused
    // here by the schema (RFC 3986 characters only), not passed on to the directory.
    const hostile = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      {
        discoverable: true,
        contacts: [{ service: 'sip', uri: `sip:${'€'.repeat(185)}@a.example` }],
      },
      { signer: alice.signer },
    );
    expect([hostile.status, hostile.json?.['code']]).toEqual([400, 'request.invalid']);
    // Contacts the directory refuses (400 invalid-contact) are the user's to fix: 400, not 502.
    p.directory.failWith = new DirectoryPublishError(400, 'invalid-contact', 'refused');
    const refused = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: [{ service: 'sip', uri: 'sip:nobody' }] },
      { signer: alice.signer },
    );
    expect([refused.status, refused.json?.['code']]).toEqual([400, 'request.invalid']);
    p.directory.failWith = undefined;

    // The directory is down: opting out and deleting still take effect here at once, and the
    // withdrawal is owed until the directory can be told.
    p.directory.failWith = new DirectoryPublishError(503, undefined, 'down');
    const owed = () =>
      p.deps.db.selectFrom('directory_pending_withdrawals').select('number').execute();
    const off = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: false },
      { signer: alice.signer },
    );
    expect(off.status).toBe(200);
    expect(off.json).toMatchObject({ discoverable: false, contacts: [] });
    expect(p.directory.entries.has(NUMBERS[0]!)).toBe(true);
    expect(await owed()).toEqual([{ number: NUMBERS[0]! }]);
    // Not discoverable here any more: no bundle by number.
    expect((await fetchBundle(p, NUMBERS[0]!, remoteAsker(p))).status).toBe(404);
    p.directory.failWith = undefined;
    expect(await reconcileDirectory(p.deps)).toBe(0);
    expect(p.directory.entries.has(NUMBERS[0]!)).toBe(false);
    expect(await owed()).toEqual([]);

    // Published again, then deleted while the directory is down.
    expect(
      (
        await call(
          p,
          'PUT',
          '/v1/account/discoverability',
          { discoverable: true, contacts },
          { signer: alice.signer },
        )
      ).status,
    ).toBe(200);
    p.directory.failWith = new DirectoryPublishError(503, undefined, 'down');
    const del = await call(p, 'DELETE', '/v1/account', undefined, { signer: alice.signer });
    expect(del.status).toBe(204);
    expect(await counts()).toEqual({ accounts: 0, prekeys: 0 });
    expect(await owed()).toEqual([{ number: NUMBERS[0]! }]);
    expect(await reconcileDirectory(p.deps)).toBe(1);
    p.directory.failWith = undefined;
    expect(await reconcileDirectory(p.deps)).toBe(0);
    expect(p.directory.entries.has(NUMBERS[0]!)).toBe(false);
  });

  it('an owed withdrawal being carried out never removes the entry an opt-in then publishes', async () => {
    const carol = await register(p, NUMBERS[2]!, makeClientKeys(1, 0));
    const contacts = [{ service: 'sip', uri: 'sip:carol@sip.example.net' }];
    const optIn = (): ReturnType<typeof call> =>
      call(
        p,
        'PUT',
        '/v1/account/discoverability',
        { discoverable: true, contacts },
        { signer: carol.signer },
      );
    expect((await optIn()).status).toBe(200);
    // Opted out while the directory is down: the withdrawal is owed.
    p.directory.failWith = new DirectoryPublishError(503, undefined, 'down');
    p.clock.now += 1000;
    const off = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: false },
      { signer: carol.signer },
    );
    expect(off.status).toBe(200);
    p.directory.failWith = undefined;
    // The retry reaches the directory slowly; meanwhile the user opts in again.
    const withdraw = p.directory.withdraw.bind(p.directory);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached = false;
    p.directory.withdraw = async (number: string): Promise<void> => {
      reached = true;
      await gate;
      return withdraw(number);
    };
    const retry = reconcileDirectory(p.deps);
    while (!reached) await new Promise((r) => setTimeout(r, 5));
    p.clock.now += 1000;
    const again = optIn();
    await new Promise((r) => setTimeout(r, 100));
    release();
    expect(await retry).toBe(0);
    expect((await again).status).toBe(200);
    p.directory.withdraw = withdraw;
    // Both sides say "listed".
    expect(p.directory.entries.has(NUMBERS[2]!)).toBe(true);
    const me = await call(p, 'GET', '/v1/account', undefined, { signer: carol.signer });
    expect(me.json.discoverable).toBe(true);
  });

  it('re-registering a published number withdraws it only after commit, and owes a failed withdrawal', async () => {
    const old = await register(p, NUMBERS[1]!, makeClientKeys(1, 0));
    const contacts = [{ service: 'sip', uri: 'sip:bob@sip.example.net' }];
    const on = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts },
      { signer: old.signer },
    );
    expect(on.status).toBe(200);
    expect(p.directory.entries.has(NUMBERS[1]!)).toBe(true);

    // The directory is down while the number is registered again: the registration commits,
    // the new account is not listed here, and the withdrawal of the old entry is owed.
    p.directory.failWith = new DirectoryPublishError(503, undefined, 'down');
    const fresh = await register(p, NUMBERS[1]!, makeClientKeys(1, 0, 100));
    const me = await call(p, 'GET', '/v1/account', undefined, { signer: fresh.signer });
    expect(me.json.discoverable).toBe(false);
    const owed = () =>
      p.deps.db.selectFrom('directory_pending_withdrawals').select('number').execute();
    expect(await owed()).toEqual([{ number: NUMBERS[1]! }]);
    expect(await reconcileDirectory(p.deps)).toBe(1);
    expect(p.directory.entries.has(NUMBERS[1]!)).toBe(true);

    p.directory.failWith = undefined;
    expect(await reconcileDirectory(p.deps)).toBe(0);
    expect(p.directory.entries.has(NUMBERS[1]!)).toBe(false);
    expect(await owed()).toEqual([]);

    // A registration whose transaction fails (its session was already used) leaves the
    // published entry and the local account as they were.
    const again = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts },
      { signer: fresh.signer },
    );
    expect(again.status).toBe(200);
    const keys = makeClientKeys(1, 0, 200);
    const sessionId = await verifyNumber(p, NUMBERS[1]!);
    const racing = await Promise.all([
      call(p, 'POST', '/v1/accounts', { sessionId, ...keys.registration }),
      call(p, 'POST', '/v1/accounts', { sessionId, ...keys.registration }),
    ]);
    expect(racing.map((r) => r.status).sort()).toEqual([201, 404]);
    expect(p.directory.entries.has(NUMBERS[1]!)).toBe(false);
    expect(await owed()).toEqual([]);
  });
});
