import { verify } from 'node:crypto';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { TestProvider } from './helpers.js';
import { NUMBERS, call, makeClientKeys, register, startTestProvider } from './helpers.js';
import { releaseMessage } from '../src/accounts/porting.js';
import { reconcileDirectory } from '../src/accounts/accounts.js';
import { DirectoryPublishError } from '../src/core/directory-client.js';

describe.each(ALL_DIALECTS)('moving a number between providers (%s)', (dialect) => {
  let a: TestProvider;
  let b: TestProvider;
  beforeEach(async () => {
    a = await startTestProvider(dialect);
    b = await startTestProvider(dialect, { providerId: 'provider-b' });
    b.clock.now = a.clock.now;
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('releases at the old provider, ports in with the release, publishes with it and completes', async () => {
    const alice = await register(a, NUMBERS[0]!, makeClientKeys(2, 0));
    const issued = await call(
      a,
      'POST',
      '/v1/account/port-out',
      { toProvider: 'provider-b' },
      { signer: alice.signer },
    );
    expect(issued.status).toBe(201);
    const release = issued.json.release;
    expect(release).toMatchObject({ kind: 'release', from: 'provider-a', to: 'provider-b' });
    const message = releaseMessage(NUMBERS[0]!, 'provider-a', 'provider-b', release.expiresAt);
    expect(
      verify(null, message, a.providerKey.publicKey, Buffer.from(release.signature, 'base64')),
    ).toBe(true);

    // Provider b trusts provider a's key (as the trust list would say).
    (b.deps as { providerKeys?: unknown }).providerKeys = (id: string) =>
      id === 'provider-a' ? [a.providerKey.publicKey] : [];
    const portIn = {
      kind: 'release',
      from: 'provider-a',
      expiresAt: release.expiresAt,
      signature: release.signature,
    };
    const moved = await register(b, NUMBERS[0]!, makeClientKeys(1, 0), { portIn });
    const pub = await call(
      b,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: [{ service: 'xmpp', uri: 'xmpp:alice@example.net' }] },
      { signer: moved.signer },
    );
    expect(pub.status).toBe(200);
    expect(b.directory.entries.get(NUMBERS[0]!)?.move).toEqual(portIn);

    const done = await call(a, 'POST', '/v1/port-outs/complete', {
      portOutId: issued.json.portOutId,
      signature: release.signature,
    });
    expect(done.status).toBe(204);
    expect(await a.deps.db.selectFrom('accounts').select('id').execute()).toHaveLength(0);
    expect(await a.deps.db.selectFrom('one_time_prekeys').select('id').execute()).toHaveLength(0);
    const again = await call(a, 'POST', '/v1/port-outs/complete', {
      portOutId: issued.json.portOutId,
      signature: release.signature,
    });
    expect(again.json.code).toBe('port.not-found');
  });

  it('refuses forged and expired releases', async () => {
    const alice = await register(a, NUMBERS[0]!, makeClientKeys(0, 0));
    const issued = await call(
      a,
      'POST',
      '/v1/account/port-out',
      { toProvider: 'provider-b' },
      { signer: alice.signer },
    );
    const forgedSig = Buffer.alloc(64, 3).toString('base64');
    const wrong = await call(a, 'POST', '/v1/port-outs/complete', {
      portOutId: issued.json.portOutId,
      signature: forgedSig,
    });
    expect([wrong.status, wrong.json.code]).toEqual([422, 'port.authorisation-invalid']);
    (b.deps as { providerKeys?: unknown }).providerKeys = (id: string) =>
      id === 'provider-a' ? [a.providerKey.publicKey] : [];
    const forged = {
      kind: 'release',
      from: 'provider-a',
      expiresAt: issued.json.release.expiresAt,
      signature: forgedSig,
    };
    await expect(
      register(b, NUMBERS[0]!, makeClientKeys(0, 0), { portIn: forged }),
    ).rejects.toThrow(/port.authorisation-invalid/);
    a.clock.now += 2 * 24 * 3600_000;
    const late = await call(a, 'POST', '/v1/port-outs/complete', {
      portOutId: issued.json.portOutId,
      signature: issued.json.release.signature,
    });
    expect([late.status, late.json.code]).toEqual([410, 'port.authorisation-expired']);
    expect(await a.deps.db.selectFrom('accounts').select('id').execute()).toHaveLength(1);
  });

  it('refuses a release when no verified trust list is available (fail closed)', async () => {
    const alice = await register(a, NUMBERS[0]!, makeClientKeys(0, 0));
    const issued = await call(
      a,
      'POST',
      '/v1/account/port-out',
      { toProvider: 'provider-b' },
      { signer: alice.signer },
    );
    const portIn = {
      kind: 'release',
      from: 'provider-a',
      expiresAt: issued.json.release.expiresAt,
      signature: issued.json.release.signature,
    };
    (b.deps as { providerKeys?: unknown }).providerKeys = undefined;
    await expect(register(b, NUMBERS[0]!, makeClientKeys(0, 0), { portIn })).rejects.toThrow(
      /503.*service.unavailable/,
    );
    (b.deps as { providerKeys?: unknown }).providerKeys = () => undefined;
    await expect(register(b, NUMBERS[0]!, makeClientKeys(0, 0), { portIn })).rejects.toThrow(
      /503.*service.unavailable/,
    );
    expect(await b.deps.db.selectFrom('accounts').select('id').execute()).toHaveLength(0);
  });

  it('completing a port-out the directory has not seen withdraws the entry (owed until it can)', async () => {
    const contacts = [{ service: 'sip', uri: 'sip:alice@a.example.net' }];
    const portOut = async (number: string): Promise<{ portOutId: string; signature: string }> => {
      const user = await register(a, number, makeClientKeys(0, 0));
      const pub = await call(
        a,
        'PUT',
        '/v1/account/discoverability',
        { discoverable: true, contacts },
        { signer: user.signer },
      );
      expect(pub.status).toBe(200);
      const issued = await call(
        a,
        'POST',
        '/v1/account/port-out',
        { toProvider: 'provider-b' },
        { signer: user.signer },
      );
      return { portOutId: issued.json.portOutId, signature: issued.json.release.signature };
    };
    // The gaining provider never published: the entry here is withdrawn on completion.
    const first = await portOut(NUMBERS[0]!);
    expect((await call(a, 'POST', '/v1/port-outs/complete', first)).status).toBe(204);
    expect(a.directory.entries.has(NUMBERS[0]!)).toBe(false);
    expect(await a.deps.db.selectFrom('accounts').select('id').execute()).toHaveLength(0);

    // The directory cannot be asked: the account goes, the withdrawal is owed and done later.
    const second = await portOut(NUMBERS[1]!);
    a.directory.failWith = new DirectoryPublishError(0, undefined, 'unreachable');
    expect((await call(a, 'POST', '/v1/port-outs/complete', second)).status).toBe(204);
    expect(await a.deps.db.selectFrom('accounts').select('id').execute()).toHaveLength(0);
    const owed = await a.deps.db
      .selectFrom('directory_pending_withdrawals')
      .select('number')
      .execute();
    expect(owed).toEqual([{ number: NUMBERS[1]! }]);
    a.directory.failWith = undefined;
    expect(await reconcileDirectory(a.deps)).toBe(0);
    expect(a.directory.entries.has(NUMBERS[1]!)).toBe(false);
  });

  it('ports in with an identity-key proof carried to the directory', async () => {
    const keys = makeClientKeys(0, 0);
    const signature = Buffer.alloc(64, 5).toString('base64');
    const moved = await register(b, NUMBERS[1]!, keys, {
      portIn: { kind: 'identity-key', signature },
    });
    await call(
      b,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: [{ service: 'sip', uri: 'sip:bob@example.net' }] },
      { signer: moved.signer },
    );
    const move = b.directory.entries.get(NUMBERS[1]!)?.move;
    expect(move).toMatchObject({ kind: 'identity-key', signature });
    expect(typeof (move as { verifiedAt: number }).verifiedAt).toBe('number');
  });
});
