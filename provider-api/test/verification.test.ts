import { createHash, createHmac } from 'node:crypto';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import { defaultProviderConfig } from '../src/core/config.js';
import type { Answer, TestProvider } from './helpers.js';
import { NUMBERS, call, register, startTestProvider } from './helpers.js';

describe.each(ALL_DIALECTS)('verification sessions (%s)', (dialect) => {
  let p: TestProvider;
  beforeEach(async () => {
    p = await startTestProvider(dialect);
  });
  afterEach(async () => {
    await p.close();
  });

  const open = async (number: string, ip = '10.0.0.1'): Promise<string> => {
    const r = await call(
      p,
      'POST',
      '/v1/verification/sessions',
      { number },
      { headers: { 'x-forwarded-for': ip } },
    );
    expect(r.status).toBe(201);
    return r.json.sessionId as string;
  };
  const send = (id: string, ip = '10.0.0.1') =>
    call(
      p,
      'POST',
      `/v1/verification/sessions/${id}/code`,
      { transport: 'voice' },
      { headers: { 'x-forwarded-for': ip } },
    );
  const submit = (id: string, code: string, ip = '10.0.0.1') =>
    call(
      p,
      'PUT',
      `/v1/verification/sessions/${id}/code`,
      { code },
      { headers: { 'x-forwarded-for': ip } },
    );

  it('normalises the number, sends a code through the sender and verifies it', async () => {
    const id = await open('+44 (20) 7946-0958');
    const sent = await send(id);
    expect(sent.json).toMatchObject({ codeSent: true, verified: false, resendsLeft: 2 });
    expect(p.codes.sent).toHaveLength(1);
    expect(p.codes.sent[0]).toMatchObject({ to: '+442079460958', transport: 'voice' });
    const code = p.codes.sent[0]!.code;
    expect(code).toMatch(/^\d{6}$/);
    const ok = await submit(id, code);
    expect(ok.status).toBe(200);
    expect(ok.json.verified).toBe(true);
    expect(typeof ok.json.verifiedAt).toBe('number');
    expect((await submit(id, code)).json.code).toBe('verification.already-verified');
  });

  it('refuses national formats and invalid numbers clearly', async () => {
    for (const number of ['020 7946 0958', '+1234', '+44 20 7946 0958 ext 1', 'hello']) {
      const r = await call(p, 'POST', '/v1/verification/sessions', { number });
      expect([r.status, r.json.code]).toEqual([422, 'number.invalid']);
      expect(JSON.stringify(r.json)).not.toContain('7946');
    }
  });

  it('limits code attempts per session with 429 and Retry-After', async () => {
    const id = await open(NUMBERS[0]!);
    await send(id);
    const right = p.codes.sent[0]!.code;
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const r = await submit(id, wrong);
      expect([r.status, r.json.code]).toEqual([422, 'verification.code-incorrect']);
    }
    const blocked = await submit(id, right);
    expect(blocked.status).toBe(429);
    expect(blocked.json.code).toBe('rate.limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('limits resends: interval, then count per session', async () => {
    const id = await open(NUMBERS[0]!);
    expect((await send(id)).status).toBe(200);
    const early = await send(id);
    expect(early.status).toBe(429);
    expect(Number(early.headers.get('retry-after'))).toBe(30);
    p.clock.now += 30_000;
    expect((await send(id)).status).toBe(200);
    p.clock.now += 30_000;
    expect((await send(id)).status).toBe(200);
    p.clock.now += 30_000;
    const exhausted = await send(id);
    expect(exhausted.status).toBe(429);
    expect(p.codes.sent).toHaveLength(3);
  });

  it('limits sends and attempts per number across sessions and per client address', async () => {
    // sendsPerNumber: 10 per hour. Each session sends one code.
    let limited = 0;
    for (let i = 0; i < 12; i++) {
      const id = await open(NUMBERS[1]!, `10.0.1.${i}`);
      const r = await send(id, `10.0.1.${i}`);
      if (r.status === 429) limited++;
    }
    expect(limited).toBe(2);
    // perClientAddress: 60 sessions per hour from one address.
    let byAddress = 0;
    for (let i = 0; i < 65; i++) {
      const r = await call(
        p,
        'POST',
        '/v1/verification/sessions',
        { number: NUMBERS[2] },
        { headers: { 'x-forwarded-for': '10.9.9.9' } },
      );
      if (r.status === 429) {
        byAddress++;
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
    expect(byAddress).toBe(5);
  });

  it("does not let a stranger's wrong guesses lock the owner out", async () => {
    // The stranger spends everything its prefix may on the owner's number: codes and guesses.
    const refused = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const id = await open(NUMBERS[0]!, '198.51.100.7');
      const sent = await send(id, '198.51.100.7');
      if (sent.status !== 200) refused.add(`send ${sent.status}`);
      for (let j = 0; j < 5 && sent.status === 200; j++) {
        const r = await submit(id, '000000', '198.51.100.7');
        if (r.status === 429) refused.add('attempt 429');
      }
    }
    expect([...refused].sort()).toEqual(['attempt 429', 'send 429']);
    // The owner, from its own network, still gets a code and verifies.
    const id = await open(NUMBERS[0]!, '203.0.113.5');
    expect((await send(id, '203.0.113.5')).status).toBe(200);
    const ok = await submit(id, p.codes.sent.at(-1)!.code, '203.0.113.5');
    expect([ok.status, ok.json.verified]).toEqual([200, true]);
  });

  it('expires codes and sessions', async () => {
    const id = await open(NUMBERS[0]!);
    await send(id);
    const code = p.codes.sent[0]!.code;
    p.clock.now += 5 * 60_000 + 1;
    expect((await submit(id, code)).json.code).toBe('verification.code-expired');
    p.clock.now += 30 * 60_000;
    const gone = await call(p, 'GET', `/v1/verification/sessions/${id}`);
    expect([gone.status, gone.json.code]).toEqual([410, 'verification.session-expired']);
  });

  it('answers the same way whether or not the number already has an account', async () => {
    await register(p, NUMBERS[3]!);
    const shape = async (number: string) => {
      const created = await call(p, 'POST', '/v1/verification/sessions', { number });
      const sent = await send(created.json.sessionId);
      const wrong = await submit(created.json.sessionId, '999999');
      return [
        created.status,
        Object.keys(created.json).sort(),
        sent.status,
        Object.keys(sent.json).sort(),
        wrong.status,
        wrong.json.detail,
      ];
    };
    expect(await shape(NUMBERS[3]!)).toEqual(await shape(NUMBERS[4]!));
  });

  it('reports a failing sender as 502 without revealing anything', async () => {
    const id = await open(NUMBERS[0]!);
    p.codes.fail = true;
    const r = await send(id);
    expect([r.status, r.json.code]).toEqual([502, 'verification.sender-failed']);
  });

  it('answers unknown sessions with 404 and malformed ids with 400', async () => {
    const r = await call(
      p,
      'GET',
      '/v1/verification/sessions/00000000-0000-4000-8000-000000000000',
    );
    expect([r.status, r.json.code]).toEqual([404, 'verification.session-not-found']);
    expect((await call(p, 'GET', '/v1/verification/sessions/nope')).status).toBe(400);
  });

  it('keys client limits by network prefix: two IPv6 addresses of one /64 share a limit', async () => {
    const create = (ip: string) =>
      call(
        p,
        'POST',
        '/v1/verification/sessions',
        { number: NUMBERS[2]! },
        { headers: { 'x-forwarded-for': ip } },
      );
    for (let i = 0; i < 30; i++) expect((await create('2001:db8:1:2::1')).status).toBe(201);
    for (let i = 0; i < 30; i++) expect((await create('2001:db8:1:2:ffff::9')).status).toBe(201);
    const shared = await create('2001:db8:1:2:abcd::1');
    expect([shared.status, shared.json.code]).toEqual([429, 'rate.limited']);
    expect((await create('2001:db8:1:3::1')).status).toBe(201);
  });

  it('stores codes as an HMAC under the server secret, not as sha256(sessionId:code)', async () => {
    const id = await open(NUMBERS[3]!);
    expect((await send(id)).status).toBe(200);
    const code = p.codes.sent.at(-1)!.code;
    const row = await p.deps.db
      .selectFrom('verification_sessions')
      .select('code_hash')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.code_hash).not.toBe(createHash('sha256').update(`${id}:${code}`).digest('hex'));
    expect(row.code_hash).toBe(
      createHmac('sha256', p.deps.verificationSecret!).update(`${id}:${code}`).digest('hex'),
    );
    expect((await submit(id, code)).json.verified).toBe(true);
  });
});

describe.each(ALL_DIALECTS)('verification send caps against SMS pumping (%s)', (dialect) => {
  let p: TestProvider;
  afterEach(async () => {
    await p.close();
  });

  const sendFrom = async (number: string, ip: string): Promise<Answer> => {
    const headers = { 'x-forwarded-for': ip };
    const created = await call(p, 'POST', '/v1/verification/sessions', { number }, { headers });
    expect(created.status).toBe(201);
    const id = created.json.sessionId as string;
    return call(
      p,
      'POST',
      `/v1/verification/sessions/${id}/code`,
      { transport: 'sms' },
      { headers },
    );
  };

  it('caps codes per destination range, whatever the client addresses', async () => {
    const base = defaultProviderConfig().verification;
    p = await startTestProvider(dialect, {
      verification: { ...base, sendsPerDestinationRange: { capacity: 3, perSeconds: 3600 } },
    });
    // +44207946xxxx: one range of 6 digits; every send from another address.
    for (let i = 0; i < 3; i++)
      expect((await sendFrom(NUMBERS[i]!, `10.1.0.${i}`)).status).toBe(200);
    const pumped = await sendFrom(NUMBERS[3]!, '10.1.0.9');
    expect([pumped.status, pumped.json.code]).toEqual([429, 'rate.limited']);
    expect(Number(pumped.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another range is unaffected.
    expect((await sendFrom('+14155552671', '10.1.0.10')).status).toBe(200);
    expect(p.codes.sent).toHaveLength(4);
  });

  it('caps codes sent by the provider in all per hour', async () => {
    const base = defaultProviderConfig().verification;
    p = await startTestProvider(dialect, {
      verification: { ...base, sendsGlobal: { capacity: 2, perSeconds: 3600 } },
    });
    expect((await sendFrom(NUMBERS[0]!, '10.2.0.1')).status).toBe(200);
    expect((await sendFrom('+14155552671', '10.2.0.2')).status).toBe(200);
    const third = await sendFrom('+33142685300', '10.2.0.3');
    expect([third.status, third.json.code]).toEqual([429, 'rate.limited']);
    p.clock.now += 3600_000;
    expect((await sendFrom('+33142685300', '10.2.0.3')).status).toBe(200);
  });
});
