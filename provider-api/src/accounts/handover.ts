import { createHash, randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import { fail } from '../core/errors.js';
import { isoTime, sha256Hex, toBase64 } from '../core/encoding.js';
import { liveSession } from './verification.js';

/** How long a registration link works: long enough to reach the other device, no longer. */
export const HANDOVER_TTL_SECONDS = 600;

type Handover = ProviderSchema<'RegistrationHandover'>;
type HandoverState = ProviderSchema<'RegistrationHandoverState'>;
type Redeemed = ProviderSchema<'RedeemedRegistrationHandover'>;

/** The fingerprint the CLI prints: first 16 bytes of SHA-256 of the key, hex in groups of 4. */
export function keyFingerprint(key: Uint8Array): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return hex.match(/.{4}/g)!.join(':');
}

/**
 * Makes the single-use link for a verified session (replacing an earlier one of the session):
 * 32 random bytes, only their SHA-256 stored, expiring after {@link HANDOVER_TTL_SECONDS}.
 */
export async function createHandover(
  deps: ProviderDeps,
  sessionId: string,
  input: { publish?: string[] },
  origin: string,
): Promise<Handover> {
  const session = await liveSession(deps, sessionId);
  if (session.verified_at === null) {
    throw fail('verification.not-verified', 'verify the number before creating a link');
  }
  const token = randomBytes(32).toString('base64url');
  const now = deps.now();
  const expiresAt = Math.min(now + HANDOVER_TTL_SECONDS * 1000, Number(session.expires_at));
  const row = {
    session_id: session.id,
    token_hash: sha256Hex(token),
    number: session.number,
    publishes: (input.publish ?? []).length > 0 ? 1 : 0,
    created_at: now,
    expires_at: expiresAt,
    redeemed_at: null,
  };
  await deps.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('registration_handovers').where('session_id', '=', session.id).execute();
    await tx.deleteFrom('registration_handovers').where('expires_at', '<', now).execute();
    await tx.insertInto('registration_handovers').values(row).execute();
  });
  const params = new URLSearchParams({ provider: origin, token });
  for (const uri of input.publish ?? []) params.append('publish', uri);
  const link = `switchboard://register?${params.toString()}`;
  const qrSvg = await QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return { link, expiresAt: isoTime(expiresAt), qrSvg };
}

/** Exchanges a token for its verified session, once (compare-and-set on `redeemed_at`). */
export async function redeemHandover(deps: ProviderDeps, token: string): Promise<Redeemed> {
  const row = await deps.db
    .selectFrom('registration_handovers')
    .selectAll()
    .where('token_hash', '=', sha256Hex(token))
    .executeTakeFirst();
  const unknown = 'no such registration link, or it was already used; create a new one';
  if (!row || row.redeemed_at !== null) throw fail('handover.not-found', unknown);
  const now = deps.now();
  if (Number(row.expires_at) <= now) {
    throw fail('handover.expired', 'the registration link expired; create a new one in the page');
  }
  const taken = await deps.db
    .updateTable('registration_handovers')
    .set({ redeemed_at: now })
    .where('session_id', '=', row.session_id)
    .where('token_hash', '=', row.token_hash)
    .where('redeemed_at', 'is', null)
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) !== 1) throw fail('handover.not-found', unknown);
  const session = await liveSession(deps, row.session_id);
  return { sessionId: session.id, expiresAt: isoTime(session.expires_at) };
}

/** What the page shows while it waits: taken by a device, then the registered account. */
export async function handoverState(deps: ProviderDeps, sessionId: string): Promise<HandoverState> {
  const row = await deps.db
    .selectFrom('registration_handovers')
    .selectAll()
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  if (!row) throw fail('handover.not-found', 'no registration link was created for this session');
  const expiresAt = isoTime(row.expires_at);
  const account =
    row.redeemed_at === null
      ? undefined
      : await deps.db
          .selectFrom('accounts')
          .select(['number', 'identity_key', 'discoverable', 'contacts', 'created_at'])
          .where('number', '=', row.number)
          .where('created_at', '>=', row.redeemed_at)
          .executeTakeFirst();
  // Registered once the account exists and, when the link asked for it, is published.
  if (account && (row.publishes === 0 || account.discoverable === 1)) {
    // A published entry is shown as a client sees it: DNSSEC validated from the trust list.
    const publication =
      account.discoverable === 1 && deps.publication
        ? await deps.publication.check(account.number, toBase64(account.identity_key))
        : undefined;
    return {
      state: 'registered',
      expiresAt,
      account: {
        number: account.number,
        discoverable: account.discoverable === 1,
        contacts: JSON.parse(account.contacts) as ProviderSchema<'Contact'>[],
        identityKeyFingerprint: keyFingerprint(account.identity_key),
        ...(publication ? { publication } : {}),
      },
    };
  }
  if (row.redeemed_at !== null) return { state: 'taken', expiresAt };
  return { state: Number(row.expires_at) <= deps.now() ? 'expired' : 'waiting', expiresAt };
}
