import { sign } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { decodeMessage, encodeMessage, RRType } from '@switchboard/dns-wire';
import type { DialectName } from '@switchboard/db';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import { enumNameFor } from '@switchboard/e164';
import { identityMoveMessage, releaseMessage } from '../src/publish/move-proof.js';
import { identity, query } from './helpers.js';
import { waitFor } from './integration/tools.js';
import { nodeAt } from '../src/zone/zone.js';
import type { TestDirectory } from './support.js';
import { APEX, checkContract, CONTACTS, makeProvider, startTestDirectory } from './support.js';

const NUMBER = '+442079460958';
const PATH = `/v1/numbers/${NUMBER}`;
const NAME = enumNameFor(NUMBER, APEX);

describe.each(ALL_DIALECTS)('publish API on %s', (dialect: DialectName) => {
  const acme = makeProvider('acme-telecom');
  const beta = makeProvider('beta-mobile');
  const gone = makeProvider('gone-telecom');
  const stranger = makeProvider('stranger');
  let t: TestDirectory;

  beforeAll(async () => {
    t = await startTestDirectory({ dialect, providers: [acme, beta], inactive: [gone] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates, replaces, reads and withdraws a number, each change visible in the zone', async () => {
    const alice = identity();
    const serial0 = t.dir.zone.snapshot.serial;
    const created = await t.request(acme, 'PUT', PATH, {
      identityKey: alice.publicBase64,
      contacts: CONTACTS,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      number: NUMBER,
      enumName: NAME,
      provider: 'acme-telecom',
    });
    expect(t.dir.zone.snapshot.serial).toBeGreaterThan(serial0);
    expect(nodeAt(t.dir.zone.snapshot, NAME)?.get(RRType.NAPTR)).toHaveLength(3);

    const replaced = await t.request(acme, 'PUT', PATH, {
      identityKey: alice.publicBase64,
      contacts: [CONTACTS[2], CONTACTS[0]],
    });
    expect(replaced.status).toBe(200);
    const naptrs = nodeAt(t.dir.zone.snapshot, NAME)?.get(RRType.NAPTR) ?? [];
    expect(naptrs.map((rr) => ('services' in rr.data ? rr.data.services : ''))).toEqual([
      'E2U+matrix',
      'E2U+sip',
    ]);

    expect((await t.request(acme, 'GET', PATH)).body).toMatchObject({ provider: 'acme-telecom' });
    expect((await t.request(beta, 'GET', PATH)).status).toBe(404);
    // The + may be percent-encoded (encodeURIComponent), as openapi/directory.yaml allows.
    const encoded = await t.request(acme, 'GET', `/v1/numbers/${encodeURIComponent(NUMBER)}`);
    expect(encoded.body).toMatchObject({ number: NUMBER });

    expect((await t.request(beta, 'DELETE', PATH)).status).toBe(404);
    expect((await t.request(acme, 'DELETE', PATH)).status).toBe(204);
    expect(nodeAt(t.dir.zone.snapshot, NAME) !== undefined).toBe(false);
    expect((await t.request(acme, 'DELETE', PATH)).body).toMatchObject({
      code: 'number-not-found',
    });
  });

  it('refuses bad input with problem codes that do not repeat the number', async () => {
    const key = identity().publicBase64;
    const bad = await t.request(acme, 'PUT', '/v1/numbers/+4420794', {
      identityKey: key,
      contacts: CONTACTS,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'invalid-number', status: 400 });
    expect(JSON.stringify(bad.body)).not.toContain('4420794');
    expect(
      (await t.request(acme, 'PUT', PATH, { identityKey: 'AAAA', contacts: CONTACTS })).body,
    ).toMatchObject({ code: 'invalid-identity-key' });
    expect(
      (
        await t.request(acme, 'PUT', PATH, {
          identityKey: key,
          contacts: [{ service: 'sip', uri: 'sip:a b@x' }],
        })
      ).body,
    ).toMatchObject({ code: 'invalid-contact' });
    expect(
      (
        await t.request(acme, 'PUT', PATH, {
          identityKey: key,
          contacts: [CONTACTS[0], CONTACTS[0]],
        })
      ).body,
    ).toMatchObject({ code: 'invalid-contact' });
    expect(
      (await t.request(acme, 'PUT', PATH, { identityKey: key, contacts: CONTACTS, extra: 1 })).body,
    ).toMatchObject({ code: 'invalid-body' });
    expect(
      (await t.request(acme, 'PUT', PATH, undefined, { rawBody: '{not json' })).body,
    ).toMatchObject({ code: 'invalid-body' });
    const huge = await t.request(acme, 'PUT', PATH, undefined, { rawBody: 'x'.repeat(20_000) });
    expect(huge.body).toMatchObject({ code: 'payload-too-large', status: 413 });
    const text = await t.request(acme, 'PUT', PATH, undefined, {
      rawBody: 'x',
      contentType: 'text/plain',
    });
    expect(text.status).toBe(415);
    expect(nodeAt(t.dir.zone.snapshot, NAME) !== undefined).toBe(false);
  });

  it('refuses unsigned, replayed, stale, unknown and inactive callers', async () => {
    const body = { identityKey: identity().publicBase64, contacts: CONTACTS };
    const unsigned = await fetch(t.dir.apiUrl + PATH, {
      method: 'PUT',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { code: string }).code).toBe('signature-missing');
    expect(unsigned.headers.get('content-type')).toContain('application/problem+json');

    expect((await t.request(acme, 'GET', PATH, undefined, { nonce: 'fixed-nonce-1' })).status).toBe(
      404,
    );
    expect(
      (await t.request(acme, 'GET', PATH, undefined, { nonce: 'fixed-nonce-1' })).body,
    ).toMatchObject({ code: 'replayed-request' });
    expect(
      (await t.request(acme, 'GET', PATH, undefined, { now: Date.now() - 3_600_000 })).body,
    ).toMatchObject({ code: 'stale-request' });
    expect((await t.request(stranger, 'PUT', PATH, body)).body).toMatchObject({
      code: 'unknown-key',
    });
    expect((await t.request(gone, 'PUT', PATH, body)).body).toMatchObject({
      code: 'provider-not-active',
      status: 403,
    });
    expect(nodeAt(t.dir.zone.snapshot, NAME) !== undefined).toBe(false);
  });

  it('moves a number only with a valid release or identity-key proof', async () => {
    const alice = identity();
    const number = '+14155552671';
    const path = `/v1/numbers/${number}`;
    expect(
      (await t.request(acme, 'PUT', path, { identityKey: alice.publicBase64, contacts: CONTACTS }))
        .status,
    ).toBe(201);
    const newKey = identity().publicBase64;
    const taken = await t.request(beta, 'PUT', path, { identityKey: newKey, contacts: CONTACTS });
    expect(taken.body).toMatchObject({ code: 'number-held-by-other-provider', status: 409 });

    const now = Math.floor(Date.now() / 1000);
    const forged = sign(
      null,
      releaseMessage(number, 'acme-telecom', 'beta-mobile', now + 600),
      beta.privateKey,
    ).toString('base64');
    const badRelease = {
      kind: 'release',
      from: 'acme-telecom',
      expiresAt: now + 600,
      signature: forged,
    };
    expect(
      (
        await t.request(beta, 'PUT', path, {
          identityKey: newKey,
          contacts: CONTACTS,
          move: badRelease,
        })
      ).body,
    ).toMatchObject({ code: 'move-proof-invalid' });
    const expired = {
      ...badRelease,
      expiresAt: now - 1,
      signature: sign(
        null,
        releaseMessage(number, 'acme-telecom', 'beta-mobile', now - 1),
        acme.privateKey,
      ).toString('base64'),
    };
    expect(
      (
        await t.request(beta, 'PUT', path, {
          identityKey: newKey,
          contacts: CONTACTS,
          move: expired,
        })
      ).body,
    ).toMatchObject({ code: 'move-proof-expired' });

    const release = {
      kind: 'release',
      from: 'acme-telecom',
      expiresAt: now + 600,
      signature: sign(
        null,
        releaseMessage(number, 'acme-telecom', 'beta-mobile', now + 600),
        acme.privateKey,
      ).toString('base64'),
    };
    const moved = await t.request(beta, 'PUT', path, {
      identityKey: newKey,
      contacts: CONTACTS,
      move: release,
    });
    expect(moved.status).toBe(201);
    expect(moved.body).toMatchObject({ provider: 'beta-mobile', identityKey: newKey });

    // Back to acme with fresh verification and a signature by the key now published (newKey's owner
    // is not alice, so alice's signature must fail; a proof cannot be used twice).
    const third = identity();
    const wrong = Buffer.from(
      alice.privateKey.sign(identityMoveMessage(number, 'acme-telecom', third.publicBase64, now)),
    ).toString('base64');
    expect(
      (
        await t.request(acme, 'PUT', path, {
          identityKey: third.publicBase64,
          contacts: CONTACTS,
          move: { kind: 'identity-key', verifiedAt: now, signature: wrong },
        })
      ).body,
    ).toMatchObject({ code: 'move-proof-invalid' });
    const again = await t.request(beta, 'PUT', path, {
      identityKey: newKey,
      contacts: CONTACTS,
      move: release,
    });
    expect(again.body).toMatchObject({ code: 'move-not-needed' });
  });

  it('accepts an identity-key move signed by the published key', async () => {
    const owner = identity();
    const number = '+33142685300';
    const path = `/v1/numbers/${number}`;
    expect(
      (await t.request(beta, 'PUT', path, { identityKey: owner.publicBase64, contacts: CONTACTS }))
        .status,
    ).toBe(201);
    const next = identity();
    const now = Math.floor(Date.now() / 1000);
    const signature = Buffer.from(
      owner.privateKey.sign(identityMoveMessage(number, 'acme-telecom', next.publicBase64, now)),
    ).toString('base64');
    const stale = Buffer.from(
      owner.privateKey.sign(
        identityMoveMessage(number, 'acme-telecom', next.publicBase64, now - 3600),
      ),
    ).toString('base64');
    expect(
      (
        await t.request(acme, 'PUT', path, {
          identityKey: next.publicBase64,
          contacts: CONTACTS,
          move: { kind: 'identity-key', verifiedAt: now - 3600, signature: stale },
        })
      ).body,
    ).toMatchObject({ code: 'move-proof-expired' });
    const moved = await t.request(acme, 'PUT', path, {
      identityKey: next.publicBase64,
      contacts: CONTACTS,
      move: { kind: 'identity-key', verifiedAt: now, signature },
    });
    expect(moved.status).toBe(201);
    expect(moved.body).toMatchObject({ provider: 'acme-telecom', identityKey: next.publicBase64 });
  });

  it('checks every response above against openapi/directory.yaml (and the check bites)', () => {
    expect(() => checkContract('PUT', PATH, 201, 'application/json', { number: NUMBER })).toThrow(
      /does not match/,
    );
    expect(() => checkContract('DELETE', PATH, 200, 'application/json', {})).toThrow(
      /does not match/,
    );
  });

  it('publishes the trust anchor', async () => {
    const res = await fetch(`${t.dir.apiUrl}/v1/zone`);
    const zone = (await res.json()) as {
      apex: string;
      ds: string[];
      trustAnchor: string;
      algorithm: number;
    };
    expect(zone.apex).toBe(APEX);
    expect(zone.algorithm).toBe(13);
    expect(zone.ds[0]).toMatch(/IN\s+DS\s+\d+ 13 2 [0-9A-F]{64}$/i);
    expect(zone.trustAnchor).toContain('static-key 257 3 13');
    expect(res.headers.get('ratelimit-policy')).toBe(
      '"per-address";q=1200;w=60, "public";q=120;w=60',
    );
    expect(res.headers.get('ratelimit')).toMatch(/^"per-address";r=\d+, "public";r=\d+$/);
    const health = await fetch(`${t.dir.apiUrl}/healthz`);
    expect(await health.json()).toMatchObject({ status: 'ok', serial: t.dir.zone.snapshot.serial });
    const metrics = await (await fetch(t.dir.metricsUrl)).text();
    expect(metrics).toMatch(/^directory_zone_serial \d+$/m);
    const missing = await fetch(`${t.dir.apiUrl}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('not-found');
  });
});

// In this file, not its own: Kysely's migrator looks for its tables in every schema, so two
// test files migrating `directory_*` tables in different PostgreSQL schemas at the same time
// race (see the report on @switchboard/db); jest runs one file's tests in sequence.
describe('two directory replicas on one PostgreSQL database', () => {
  const acme = makeProvider('acme-telecom');
  let a: TestDirectory;
  let b: TestDirectory;

  beforeAll(async () => {
    a = await startTestDirectory({ dialect: 'postgres', providers: [acme] });
    // Replicas share the database and the zone key (the same keys directory).
    b = await startTestDirectory({
      dialect: 'postgres',
      providers: [acme],
      sharedSchema: a.schema!,
      extra: { dataDir: a.dataDir },
    });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('a number published through one replica is answered by the other within a second', async () => {
    const put = await a.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(put.status).toBe(201);
    const naptrsAtB = async (): Promise<number> => {
      const socket = createSocket('udp4');
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 300);
        socket.on('message', (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        socket.send(encodeMessage(query(NAME, RRType.NAPTR)), b.dir.dns.port, '127.0.0.1');
      });
      socket.close();
      return reply
        ? decodeMessage(reply).answers.filter((rr) => rr.type === RRType.NAPTR).length
        : 0;
    };
    expect(await waitFor(async () => (await naptrsAtB()) === 3, 1000)).toBe(true);
    // The replicas' serials agree, so secondaries see one zone version.
    expect(b.dir.zone.snapshot.serial).toBe(a.dir.zone.snapshot.serial);
    expect(b.dir.dsRecord).toBe(a.dir.dsRecord);
  });
});
