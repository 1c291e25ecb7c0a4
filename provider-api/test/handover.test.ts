import { createHash } from 'node:crypto';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { TestProvider } from './helpers.js';
import { NUMBERS, call, makeClientKeys, startTestProvider, verifyNumber } from './helpers.js';

const tokenOf = (link: string): string => new URL(link).searchParams.get('token') ?? '';

describe.each(ALL_DIALECTS)('registration hand-over (%s)', (dialect) => {
  let p: TestProvider;
  beforeEach(async () => {
    p = await startTestProvider(dialect);
  });
  afterEach(async () => {
    await p.close();
  });

  const handover = (sessionId: string, publish: string[] = []) =>
    call(p, 'POST', `/v1/verification/sessions/${sessionId}/handover`, { publish });
  const redeem = (token: string) => call(p, 'POST', '/v1/registration-handovers/redeem', { token });
  const state = (sessionId: string) =>
    call(p, 'GET', `/v1/verification/sessions/${sessionId}/handover`);

  it('gives a single-use link whose token is stored only hashed, then reports the account', async () => {
    const sessionId = await verifyNumber(p, NUMBERS[0]!);
    const made = await handover(sessionId, ['sip:a@a.example']);
    expect(made.status).toBe(201);
    const link = made.json.link as string;
    expect(link).toMatch(
      /^switchboard:\/\/register\?provider=http%3A%2F%2F127\.0\.0\.1%3A\d+&token=/,
    );
    expect(new URL(link).searchParams.getAll('publish')).toEqual(['sip:a@a.example']);
    expect(link).not.toContain(sessionId);
    expect(made.json.qrSvg).toMatch(/^<svg/);
    const token = tokenOf(link);
    const rows = await p.deps.db.selectFrom('registration_handovers').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0]!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect((await state(sessionId)).json.state).toBe('waiting');

    const redeemed = await redeem(token);
    expect(redeemed.status).toBe(200);
    expect(redeemed.json.sessionId).toBe(sessionId);
    const twice = await redeem(token);
    expect(twice.status).toBe(404);
    expect(twice.headers.get('content-type')).toContain('application/problem+json');
    expect(twice.json.code).toBe('handover.not-found');
    expect((await state(sessionId)).json.state).toBe('taken');

    const keys = makeClientKeys();
    const reg = await call(p, 'POST', '/v1/accounts', { sessionId, ...keys.registration });
    expect(reg.status).toBe(201);
    // Asked to publish: the page keeps waiting until the account is discoverable.
    expect((await state(sessionId)).json.state).toBe('taken');
    await p.deps.db.updateTable('accounts').set({ discoverable: 1 }).execute();
    const done = await state(sessionId);
    expect(done.json).toMatchObject({
      state: 'registered',
      account: { number: NUMBERS[0], discoverable: true },
    });
    const identity = Buffer.from(keys.registration.identityKey as string, 'base64');
    const hex = createHash('sha256').update(identity).digest('hex').slice(0, 32);
    expect(done.json.account.identityKeyFingerprint).toBe(hex.match(/.{4}/g)!.join(':'));
  });

  it('expires after minutes, needs a verified session, and replaces an earlier link', async () => {
    const open = await call(p, 'POST', '/v1/verification/sessions', { number: NUMBERS[1] });
    const early = await handover(open.json.sessionId as string);
    expect(early.status).toBe(403);
    expect(early.json.code).toBe('verification.not-verified');

    const sessionId = await verifyNumber(p, NUMBERS[2]!);
    const first = tokenOf((await handover(sessionId)).json.link as string);
    const second = tokenOf((await handover(sessionId)).json.link as string);
    expect(second).not.toBe(first);
    expect((await redeem(first)).json.code).toBe('handover.not-found');
    p.clock.now += 11 * 60 * 1000;
    const late = await redeem(second);
    expect(late.status).toBe(410);
    expect(late.json.code).toBe('handover.expired');
    expect((await state(sessionId)).json.state).toBe('expired');
    expect((await redeem('x'.repeat(43))).status).toBe(404);
    expect((await redeem('short')).status).toBe(400);
    expect((await handover(sessionId, ['http://evil.example'])).status).toBe(400);
  });
});
