import { join } from 'node:path';
import type { DialectName } from '@switchboard/db';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { E164Number } from '@switchboard/e164';
import { identity } from './helpers.js';
import type { TestDirectory } from './support.js';
import { CONTACTS, makeProvider, startTestDirectory } from './support.js';

/**
 * The reviewer's reproduction: a signed PUT captured on its way to one replica is replayed to
 * another replica of the same database, rolling an identity-key change back.
 */
describe.each(ALL_DIALECTS)('two directories on one %s database', (dialect: DialectName) => {
  const acme = makeProvider('acme-telecom');
  const NUMBER = '+31201234567';
  let a: TestDirectory;
  let b: TestDirectory;
  // Another directory on a's database and zone key.
  const startReplica = (): Promise<TestDirectory> =>
    startTestDirectory({
      dialect,
      providers: [acme],
      ...(a.schema ? { sharedSchema: a.schema } : {}),
      extra: {
        dataDir: a.dataDir,
        ...(dialect === 'sqlite'
          ? { databaseUrl: `sqlite:${join(a.dataDir, 'directory.db')}` }
          : {}),
      },
    });

  beforeAll(async () => {
    a = await startTestDirectory({ dialect, providers: [acme] });
    b = await startReplica();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('refuses at the second directory a signed request the first one accepted', async () => {
    const oldKey = identity().publicBase64;
    const newKey = identity().publicBase64;
    const signedAt = Date.now();
    const original = { now: signedAt, nonce: 'captured-nonce-1' };
    const first = await a.request(
      acme,
      'PUT',
      `/v1/numbers/${NUMBER}`,
      { identityKey: oldKey, contacts: CONTACTS },
      original,
    );
    expect(first.status).toBe(201);
    const change = await a.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: newKey,
      contacts: CONTACTS,
    });
    expect(change.status).toBe(200);

    // The exact same signed bytes (Ed25519 signatures are deterministic), to each replica.
    const atA = await a.request(
      acme,
      'PUT',
      `/v1/numbers/${NUMBER}`,
      { identityKey: oldKey, contacts: CONTACTS },
      original,
    );
    expect(atA.status).toBe(401);
    const atB = await b.request(
      acme,
      'PUT',
      `/v1/numbers/${NUMBER}`,
      { identityKey: oldKey, contacts: CONTACTS },
      original,
    );
    expect(atB.status).toBe(401);
    expect(atB.body?.['code']).toBe('replayed-request');
    const held = await b.dir.store.get(NUMBER as E164Number);
    expect(held?.identityKey).toBe(newKey);
  });

  it('refuses the replay at a directory started after the request was accepted', async () => {
    const signed = { now: Date.now(), nonce: 'captured-nonce-2' };
    const body = { identityKey: identity().publicBase64, contacts: CONTACTS };
    expect((await b.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, body, signed)).status).toBe(200);
    // A restart is a new process with nothing in memory.
    const restarted = await startReplica();
    try {
      const replay = await restarted.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, body, signed);
      expect(replay.status).toBe(401);
      expect(replay.body?.['code']).toBe('replayed-request');
    } finally {
      await restarted.close();
    }
  });
});
