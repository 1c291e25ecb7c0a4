import { ALL_DIALECTS } from '@switchboard/db/testing';
import { createApiKey } from '../src/operator/operator-keys.js';
import { defaultProviderConfig } from '../src/core/config.js';
import { registrationLockMessage } from '../src/accounts/registration-lock.js';
import type { Answer, ClientKeys, Registered, TestProvider } from './helpers.js';
import {
  NUMBERS,
  call,
  makeClientKeys,
  register,
  startTestProvider,
  verifyNumber,
} from './helpers.js';

const DAY = 24 * 3600_000;
const PIN = '2468-river';

describe.each(ALL_DIALECTS)('registration lock (%s)', (dialect) => {
  let p: TestProvider;
  let alice: Registered;
  const number = NUMBERS[0]!;

  beforeEach(async () => {
    // Many verifications of one number in a test: the per-number verification budget is raised.
    const verification = {
      ...defaultProviderConfig().verification,
      // PIN guesses come from fresh sessions: the code-send budgets must not stop them first.
      sendsPerNumber: { capacity: 1000, perSeconds: 3600 },
      sendsPerNumberAndClient: { capacity: 1000, perSeconds: 3600 },
    };
    p = await startTestProvider(dialect, { verification });
    alice = await register(p, number, makeClientKeys(0, 0));
    const key = await createApiKey(p.deps, { name: 'payments', scopes: ['billing:write'] });
    const bought = await call(
      p,
      'POST',
      '/v1/credit/purchases',
      { accountId: alice.accountId, amountMinor: 700, currency: 'EUR', paymentReference: 'pay_1' },
      { headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': 'lock-test-0001' } },
    );
    expect(bought.status).toBe(201);
  });
  afterEach(async () => {
    await p.close();
  });

  const lock = async (pin = PIN): Promise<void> => {
    const res = await call(
      p,
      'PUT',
      '/v1/account/registration-lock',
      { pin },
      {
        signer: alice.signer,
      },
    );
    expect(res.status).toBe(204);
  };
  /** Verifies the number in a fresh session (as whoever receives the SMS) and registers. */
  const reRegister = async (
    keys: ClientKeys,
    proof?: (sessionId: string) => Record<string, unknown>,
  ): Promise<Answer> => {
    const sessionId = await verifyNumber(p, number);
    return call(p, 'POST', '/v1/accounts', {
      sessionId,
      ...keys.registration,
      ...(proof ? { registrationLock: proof(sessionId) } : {}),
    });
  };
  const balanceOf = async (accountId: string, keys: ClientKeys): Promise<number> => {
    const res = await call(p, 'GET', '/v1/credit/balance', undefined, {
      signer: { keyId: accountId, privateKey: keys.device.privateKey },
    });
    return res.json.balanceMinor as number;
  };

  it('refuses a fresh SMS code without the PIN (423 problem+json), opens with the PIN and keeps the credit', async () => {
    await lock();
    const thief = await reRegister(makeClientKeys(0, 0));
    expect([thief.status, thief.json.code]).toEqual([423, 'account.registration-locked']);
    expect(thief.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(thief.json.detail).not.toContain(PIN);
    const wrong = await reRegister(makeClientKeys(0, 0), () => ({ pin: '1111-wrong' }));
    expect([wrong.status, wrong.json.code]).toEqual([423, 'account.registration-locked']);
    // The owner is still there.
    expect((await call(p, 'GET', '/v1/account', undefined, { signer: alice.signer })).status).toBe(
      200,
    );

    const keys = makeClientKeys(0, 0);
    const owner = await reRegister(keys, () => ({ pin: PIN }));
    expect(owner.status).toBe(201);
    expect(await balanceOf(owner.json.accountId, keys)).toBe(700);
    // The PIN is stored only as a salted hash; the lock went with the replaced account.
    expect(await p.deps.db.selectFrom('registration_locks').selectAll().execute()).toEqual([]);
  });

  it('opens with a signature by the old identity key', async () => {
    await lock();
    const keys = makeClientKeys(0, 0);
    const forged = await reRegister(keys, () => ({
      identitySignature: Buffer.alloc(64, 7).toString('base64'),
    }));
    expect([forged.status, forged.json.code]).toEqual([423, 'account.registration-locked']);
    const signed = await reRegister(keys, (sessionId) => ({
      identitySignature: Buffer.from(
        alice.keys.identity.privateKey.sign(
          new Uint8Array(registrationLockMessage(number, sessionId, keys.registration.identityKey)),
        ),
      ).toString('base64'),
    }));
    expect(signed.status).toBe(201);
    expect(await balanceOf(signed.json.accountId, keys)).toBe(700);
  });

  it('stores the PIN only as a salted hash', async () => {
    await lock();
    const rows = await p.deps.db.selectFrom('registration_locks').selectAll().execute();
    expect(rows).toHaveLength(1);
    const stored = Buffer.concat([Buffer.from(rows[0]!.pin_hash), Buffer.from(rows[0]!.pin_salt)]);
    expect(stored.includes(Buffer.from(PIN))).toBe(false);
    expect(Buffer.from(rows[0]!.pin_hash)).toHaveLength(32);
  });

  it('stays while the account is active and lapses after 7 days without activity', async () => {
    await lock();
    p.clock.now += 6 * DAY;
    expect((await call(p, 'GET', '/v1/account', undefined, { signer: alice.signer })).status).toBe(
      200,
    );
    p.clock.now += 6 * DAY;
    const still = await reRegister(makeClientKeys(0, 0));
    expect([still.status, still.json.code]).toEqual([423, 'account.registration-locked']);
    p.clock.now += 2 * DAY;
    const keys = makeClientKeys(0, 0);
    const lapsed = await reRegister(keys);
    expect(lapsed.status).toBe(201);
    expect(await balanceOf(lapsed.json.accountId, keys)).toBe(700);
  });

  it('limits PIN guesses per number (429), even from fresh sessions', async () => {
    await lock();
    for (let i = 0; i < 5; i++) {
      const guess = await reRegister(makeClientKeys(0, 0), () => ({ pin: `guess-${i}` }));
      expect([guess.status, guess.json.code]).toEqual([423, 'account.registration-locked']);
    }
    const limited = await reRegister(makeClientKeys(0, 0), () => ({ pin: PIN }));
    expect([limited.status, limited.json.code]).toEqual([429, 'rate.limited']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    p.clock.now += DAY;
    // The owner's device stays active meanwhile, so the lock holds; the next window opens.
    expect((await call(p, 'GET', '/v1/account', undefined, { signer: alice.signer })).status).toBe(
      200,
    );
    const owner = await reRegister(makeClientKeys(0, 0), () => ({ pin: PIN }));
    expect(owner.status).toBe(201);
  });

  it('carries the credit over to a re-registration of an unlocked number', async () => {
    const keys = makeClientKeys(0, 0);
    const again = await reRegister(keys);
    expect(again.status).toBe(201);
    expect(await balanceOf(again.json.accountId, keys)).toBe(700);
    const statement = await call(p, 'GET', '/v1/credit/statement', undefined, {
      signer: { keyId: again.json.accountId, privateKey: keys.device.privateKey },
    });
    expect(statement.status).toBe(200);
  });

  it('removes the lock on request', async () => {
    await lock();
    const removed = await call(p, 'DELETE', '/v1/account/registration-lock', undefined, {
      signer: alice.signer,
    });
    expect(removed.status).toBe(204);
    expect((await reRegister(makeClientKeys(0, 0))).status).toBe(201);
  });
});
