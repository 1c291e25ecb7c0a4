import type { KeyObject } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Kysely } from 'kysely';
import type { ReplayCache } from '@switchboard/http-signature';
import { HttpSignatureError, verifyRequest } from '@switchboard/http-signature';
import type { ProviderErrorCode } from '@switchboard/openapi';
import type { ProviderTables } from '../store/schema.js';
import { fail } from './errors.js';
import { ed25519PublicKey, sha256Hex } from './encoding.js';
import { precompiled } from '../store/precompiled.js';

const SIGNATURE_CODES: Readonly<Record<string, ProviderErrorCode>> = {
  missing: 'auth.missing',
  malformed: 'auth.invalid',
  unsupported: 'auth.invalid',
  'unknown-key': 'auth.invalid',
  'bad-signature': 'auth.invalid',
  stale: 'auth.stale',
  replayed: 'auth.replayed',
  'digest-mismatch': 'auth.digest-mismatch',
};

/** What a signature check needs from the service. */
export interface SignatureContext {
  readonly replayCache: ReplayCache;
  readonly now: () => number;
  readonly maxSkewSeconds: number;
}

/**
 * Verifies the RFC 9421 signature of a request and returns the key id it was signed with;
 * failures become 401 problems (400 for a body that does not match its digest).
 */
export async function verifySignedRequest(
  req: Request,
  rawBody: Buffer,
  ctx: SignatureContext,
  resolveKey: (keyId: string) => KeyObject | undefined | Promise<KeyObject | undefined>,
): Promise<string> {
  if (req.headers['signature'] === undefined && req.headers['signature-input'] === undefined) {
    throw fail(
      'auth.missing',
      'sign this request (RFC 9421: Signature, Signature-Input, Content-Digest)',
    );
  }
  try {
    const { keyId } = await verifyRequest({
      method: req.method,
      url: req.originalUrl,
      headers: req.headers,
      body: rawBody,
      now: ctx.now() / 1000,
      resolveKey,
      replayCache: ctx.replayCache,
      maxSkewSeconds: ctx.maxSkewSeconds,
    });
    return keyId;
  } catch (err) {
    if (HttpSignatureError.is(err)) {
      throw fail(SIGNATURE_CODES[err.code] ?? 'auth.invalid', err.message);
    }
    throw err;
  }
}

const ACCOUNT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const deviceKeyById = precompiled(['id'], (db: Kysely<ProviderTables>, p) =>
  db.selectFrom('accounts').select('device_key').where('id', '=', p.id),
);

/**
 * The device key of account `keyId` (the key id of its signed requests), if there is one; read
 * on `via` (a transaction on `db`) when given.
 */
export async function deviceKeyOf(
  db: Kysely<ProviderTables>,
  keyId: string,
  via: Kysely<ProviderTables> = db,
): Promise<KeyObject | undefined> {
  if (!ACCOUNT_ID.test(keyId)) return undefined;
  const [row] = await deviceKeyById(db, { id: keyId }, via);
  return row ? ed25519PublicKey(row.device_key) : undefined;
}

/** Operator API key scopes (the document's `ApiKeyScope`). */
export type ApiKeyScope = 'admin:keys' | 'accounts:read' | 'billing:write';

const KEY_FORMAT = /^sbk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

/** Splits an operator key `sbk_<id hex>_<secret>` into the stored id and the secret. */
export function parseOperatorKey(key: string): { id: string; secret: string } | undefined {
  const m = KEY_FORMAT.exec(key);
  if (!m?.[1] || !m[2]) return undefined;
  const hex = m[1];
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { id, secret: m[2] };
}

/**
 * Checks `Authorization: Bearer <operator key>` against the hashed keys and the required scope.
 * Returns the key id.
 */
export async function requireOperator(
  req: Request,
  db: Kysely<ProviderTables>,
  scope: ApiKeyScope,
): Promise<string> {
  const header = req.headers.authorization;
  if (!header) throw fail('auth.missing', 'send Authorization: Bearer <operator API key>');
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const parsed = token === undefined ? undefined : parseOperatorKey(token);
  const row = parsed
    ? await db
        .selectFrom('api_keys')
        .select(['id', 'key_hash', 'scopes', 'revoked_at'])
        .where('id', '=', parsed.id)
        .executeTakeFirst()
    : undefined;
  const expected = Buffer.from(row?.key_hash ?? '0'.repeat(64), 'hex');
  const actual = Buffer.from(sha256Hex(parsed?.secret ?? ''), 'hex');
  const matches = timingSafeEqual(expected, actual);
  if (!row || !matches || row.revoked_at !== null) {
    throw fail('auth.invalid', 'the operator API key is not valid');
  }
  const scopes = JSON.parse(row.scopes) as string[];
  if (!scopes.includes(scope)) {
    throw fail('auth.forbidden', `this operator API key lacks scope ${scope}`);
  }
  return row.id;
}
