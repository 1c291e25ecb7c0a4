import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { Registered, TestProvider } from './helpers.js';
import { NUMBERS, call, makeClientKeys, register, startTestProvider } from './helpers.js';
import { createApiKey } from '../src/operator/operator-keys.js';
import { chargeAccount, trialBalance } from '../src/billing/ledger.js';

describe.each(ALL_DIALECTS)('credit ledger (%s)', (dialect) => {
  let p: TestProvider;
  let alice: Registered;
  let payments: { authorization: string };
  beforeEach(async () => {
    p = await startTestProvider(dialect);
    alice = await register(p, NUMBERS[0]!, makeClientKeys(0, 0));
    const key = await createApiKey(p.deps, { name: 'payments', scopes: ['billing:write'] });
    payments = { authorization: `Bearer ${key.key}` };
  });
  afterEach(async () => {
    await p.close();
  });

  const purchase = (
    key: string,
    amountMinor = 500,
    paymentReference = 'pay_1',
    accountId = alice.accountId,
  ) =>
    call(
      p,
      'POST',
      '/v1/credit/purchases',
      { accountId, amountMinor, currency: 'EUR', paymentReference },
      { headers: { ...payments, 'idempotency-key': key } },
    );
  const balance = async () =>
    (await call(p, 'GET', '/v1/credit/balance', undefined, { signer: alice.signer })).json
      .balanceMinor as number;

  it('an idempotent purchase retried 10 times charges once (sequentially and concurrently)', async () => {
    const first = await purchase('retry-key-0001');
    expect(first.status).toBe(201);
    for (let i = 0; i < 9; i++) {
      const again = await purchase('retry-key-0001');
      expect(again.status).toBe(201);
      expect(again.json).toEqual(first.json);
    }
    expect(await balance()).toBe(500);
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () => purchase('retry-key-0002', 250, 'pay_2')),
    );
    expect(concurrent.every((r) => r.status === 201)).toBe(true);
    expect(new Set(concurrent.map((r) => r.json.purchaseId)).size).toBe(1);
    expect(await balance()).toBe(750);
    const tx = await p.deps.db.selectFrom('ledger_transactions').select('id').execute();
    expect(tx).toHaveLength(2);
    expect(await trialBalance(p.deps)).toBe(0);
  });

  it('refuses a reused key with a different request, and a foreign currency', async () => {
    await purchase('key-0000-abc');
    const reused = await purchase('key-0000-abc', 999);
    expect([reused.status, reused.json.code]).toEqual([409, 'credit.idempotency-key-reused']);
    const usd = await call(
      p,
      'POST',
      '/v1/credit/purchases',
      { accountId: alice.accountId, amountMinor: 1, currency: 'USD', paymentReference: 'x' },
      { headers: { ...payments, 'idempotency-key': 'key-usd-0001' } },
    );
    expect([usd.status, usd.json.code]).toEqual([422, 'credit.currency-mismatch']);
    const missing = await call(
      p,
      'POST',
      '/v1/credit/purchases',
      { accountId: alice.accountId, amountMinor: 1, currency: 'EUR', paymentReference: 'x' },
      { headers: payments },
    );
    expect(missing.status).toBe(400);
  });

  it('only the payment side records credit, and a payment reference credits once', async () => {
    const body = { accountId: alice.accountId, amountMinor: 100000, currency: 'EUR' };
    const byUser = await call(
      p,
      'POST',
      '/v1/credit/purchases',
      { ...body, paymentReference: 'made-up' },
      { signer: alice.signer, headers: { 'idempotency-key': 'self-minted-1' } },
    );
    expect([byUser.status, byUser.json.code]).toEqual([401, 'auth.missing']);
    const reader = await createApiKey(p.deps, { name: 'support', scopes: ['accounts:read'] });
    const wrongScope = await call(
      p,
      'POST',
      '/v1/credit/purchases',
      { ...body, paymentReference: 'made-up' },
      { headers: { authorization: `Bearer ${reader.key}`, 'idempotency-key': 'self-minted-2' } },
    );
    expect([wrongScope.status, wrongScope.json.code]).toEqual([403, 'auth.forbidden']);
    expect(await balance()).toBe(0);

    expect((await purchase('first-key-0001', 500, 'pay_once')).status).toBe(201);
    const twice = await purchase('other-key-0002', 500, 'pay_once');
    expect([twice.status, twice.json.code]).toEqual([409, 'credit.payment-reference-reused']);
    expect(twice.json.detail).toMatch(/payment reference/);
    expect(await balance()).toBe(500);

    const bob = await register(p, NUMBERS[1]!, makeClientKeys(1, 0));
    const race = await Promise.all([
      purchase('race-key-0001', 300, 'pay_race', alice.accountId),
      purchase('race-key-0002', 300, 'pay_race', bob.accountId),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(await balance()).toBeLessThanOrEqual(800);
    expect(await trialBalance(p.deps)).toBe(0);
  });

  it('charges through the hook and the operator API, never below zero, with a statement', async () => {
    await purchase('key-buy-0001', 1000);
    const c1 = await chargeAccount(p.deps, {
      accountId: alice.accountId,
      amountMinor: 300,
      currency: 'EUR',
      description: 'PSTN call',
      idempotencyKey: 'call-0001',
    });
    expect(c1.balanceMinor).toBe(700);
    const again = await chargeAccount(p.deps, {
      accountId: alice.accountId,
      amountMinor: 300,
      currency: 'EUR',
      description: 'PSTN call',
      idempotencyKey: 'call-0001',
    });
    expect(again.chargeId).toBe(c1.chargeId);

    const billing = await createApiKey(p.deps, { name: 'billing', scopes: ['billing:write'] });
    const auth = { authorization: `Bearer ${billing.key}` };
    const tooMuch = await call(
      p,
      'POST',
      '/v1/admin/charges',
      { accountId: alice.accountId, amountMinor: 701, currency: 'EUR', description: 'big call' },
      { headers: { ...auth, 'idempotency-key': 'call-0002' } },
    );
    expect([tooMuch.status, tooMuch.json.code]).toEqual([402, 'credit.insufficient-funds']);
    const ok = await call(
      p,
      'POST',
      '/v1/admin/charges',
      { accountId: alice.accountId, amountMinor: 700, currency: 'EUR', description: 'call' },
      { headers: { ...auth, 'idempotency-key': 'call-0003' } },
    );
    expect([ok.status, ok.json.balanceMinor]).toEqual([201, 0]);
    const nobody = await call(
      p,
      'POST',
      '/v1/admin/charges',
      {
        accountId: '00000000-0000-4000-8000-000000000000',
        amountMinor: 1,
        currency: 'EUR',
        description: 'x',
      },
      { headers: { ...auth, 'idempotency-key': 'call-0004' } },
    );
    expect(nobody.status).toBe(404);

    const statement = await call(p, 'GET', '/v1/credit/statement?limit=2', undefined, {
      signer: alice.signer,
    });
    expect(statement.json.lines.map((l: { amountMinor: number }) => l.amountMinor)).toEqual([
      -700, -300,
    ]);
    const older = await call(
      p,
      'GET',
      `/v1/credit/statement?before=${statement.json.lines[1].lineId}`,
      undefined,
      { signer: alice.signer },
    );
    expect(older.json.lines.map((l: { kind: string }) => l.kind)).toEqual(['purchase']);
    expect(await trialBalance(p.deps)).toBe(0);
  });
});
