import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { TestProvider } from './helpers.js';
import { call, startTestProvider } from './helpers.js';
import { createApiKey } from '../src/operator/operator-keys.js';
import { parseOperatorKey } from '../src/core/auth.js';

describe.each(ALL_DIALECTS)('operator API keys (%s)', (dialect) => {
  let p: TestProvider;
  beforeEach(async () => {
    p = await startTestProvider(dialect);
  });
  afterEach(async () => {
    await p.close();
  });

  it('creates, lists and revokes keys with scopes; stores only hashes', async () => {
    const admin = await createApiKey(p.deps, { name: 'root', scopes: ['admin:keys'] });
    const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    const created = await call(
      p,
      'POST',
      '/v1/admin/api-keys',
      { name: 'billing bot', scopes: ['billing:write'] },
      as(admin.key),
    );
    expect(created.status).toBe(201);
    expect(created.json.key).toMatch(/^sbk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const rows = await p.deps.db.selectFrom('api_keys').select(['key_hash']).execute();
    for (const r of rows) expect(created.json.key).not.toContain(r.key_hash);
    // The secret is base64url and may itself contain '_': take it with the real parser.
    const secret = parseOperatorKey(created.json.key)?.secret;
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(rows)).not.toContain(secret);

    const list = await call(p, 'GET', '/v1/admin/api-keys', undefined, as(admin.key));
    expect(list.json.apiKeys.map((k: { name: string }) => k.name).sort()).toEqual([
      'billing bot',
      'root',
    ]);
    expect(JSON.stringify(list.json)).not.toContain('sbk_');

    const forbidden = await call(p, 'GET', '/v1/admin/api-keys', undefined, as(created.json.key));
    expect([forbidden.status, forbidden.json.code]).toEqual([403, 'auth.forbidden']);
    expect((await call(p, 'GET', '/v1/admin/api-keys')).json.code).toBe('auth.missing');
    const wrong = created.json.key.slice(0, -1) + (created.json.key.endsWith('A') ? 'B' : 'A');
    expect((await call(p, 'GET', '/v1/admin/api-keys', undefined, as(wrong))).json.code).toBe(
      'auth.invalid',
    );

    const revoked = await call(
      p,
      'DELETE',
      `/v1/admin/api-keys/${created.json.apiKeyId}`,
      undefined,
      as(admin.key),
    );
    expect(revoked.status).toBe(204);
    const afterRevoke = await call(
      p,
      'POST',
      '/v1/admin/charges',
      { accountId: created.json.apiKeyId, amountMinor: 1, currency: 'EUR', description: 'x' },
      { headers: { authorization: `Bearer ${created.json.key}`, 'idempotency-key': 'abcdefgh' } },
    );
    expect(afterRevoke.json.code).toBe('auth.invalid');
    expect(
      (
        await call(
          p,
          'DELETE',
          `/v1/admin/api-keys/${created.json.apiKeyId}`,
          undefined,
          as(admin.key),
        )
      ).status,
    ).toBe(404);
  });
});
