import { randomBytes, randomUUID } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import type { ApiKeysTable } from '../store/schema.js';
import type { ApiKeyScope } from '../core/auth.js';
import { fail } from '../core/errors.js';
import { isoTime, sha256Hex } from '../core/encoding.js';

type ApiKeyInfo = ProviderSchema<'ApiKeyInfo'>;

function info(row: ApiKeysTable): ApiKeyInfo {
  return {
    apiKeyId: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as ApiKeyScope[],
    createdAt: isoTime(row.created_at),
  };
}

/**
 * Creates an operator key. The secret (`sbk_<id>_<32 random bytes>`) is returned once and stored
 * only as its SHA-256 (a high-entropy secret needs no slow hash).
 */
export async function createApiKey(
  deps: Pick<ProviderDeps, 'db' | 'now'>,
  input: { name: string; scopes: readonly ApiKeyScope[] },
): Promise<ProviderSchema<'CreatedApiKey'>> {
  const id = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  const row: ApiKeysTable = {
    id,
    name: input.name,
    key_hash: sha256Hex(secret),
    scopes: JSON.stringify([...new Set(input.scopes)]),
    created_at: deps.now(),
    revoked_at: null,
  };
  await deps.db.insertInto('api_keys').values(row).execute();
  return { ...info(row), key: `sbk_${id.replace(/-/g, '')}_${secret}` };
}

/** Lists keys that are not revoked. */
export async function listApiKeys(deps: ProviderDeps): Promise<ProviderSchema<'ApiKeyList'>> {
  const rows = await deps.db
    .selectFrom('api_keys')
    .selectAll()
    .where('revoked_at', 'is', null)
    .orderBy('created_at')
    .execute();
  return { apiKeys: rows.map(info) };
}

/** Revokes a key; it stops working at once. */
export async function revokeApiKey(deps: ProviderDeps, id: string): Promise<void> {
  const result = await deps.db
    .updateTable('api_keys')
    .set({ revoked_at: deps.now() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw fail('api-key.not-found', 'no such API key');
}

/** True when at least one usable key exists (the service creates a first one otherwise). */
export async function hasApiKeys(deps: Pick<ProviderDeps, 'db'>): Promise<boolean> {
  const row = await deps.db
    .selectFrom('api_keys')
    .select('id')
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}
