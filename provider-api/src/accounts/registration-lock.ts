import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { PublicKey } from '@signalapp/libsignal-client';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import type { AccountsTable } from '../store/schema.js';
import { fail, rateLimited } from '../core/errors.js';
import { fromBase64, toArrayBuffer } from '../core/encoding.js';

// Registration lock as Signal's: an account may set a PIN; while it stays active (an
// authenticated request within `registrationLock.inactivitySeconds`, 7 days by default),
// registering its number again here needs the PIN or a signature by its identity key. Only a
// salted scrypt hash of the PIN is stored; wrong PINs are limited per number in the database
// (so across replicas); after a lapse of inactivity the number can be taken over with an SMS
// code alone, as in Signal.

/** scrypt cost: N = 2^14, r = 8 (16 MiB, tens of milliseconds), 32-byte output. */
const SCRYPT = { N: 1 << 14, r: 8, p: 1 } as const;
/** Activity is written at most this often per account and process. */
const ACTIVITY_RESOLUTION_MS = 3600_000;

function pinHash(pin: string, salt: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(pin.normalize('NFKC'), salt, 32, SCRYPT, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** The bytes an identity-key proof signs (`RegistrationLockProof` in the document). */
export function registrationLockMessage(
  number: string,
  sessionId: string,
  identityKey: string,
): Buffer {
  return Buffer.from(
    `switchboard-registration-lock-v1\n${number}\n${sessionId}\n${identityKey}`,
    'utf8',
  );
}

/** Sets or replaces the lock of an account; the lock counts as active from now. */
export async function setRegistrationLock(
  deps: ProviderDeps,
  accountId: string,
  pin: string,
): Promise<void> {
  const salt = randomBytes(16);
  const hash = await pinHash(pin, salt);
  const now = deps.now();
  const row = {
    account_id: accountId,
    pin_salt: salt,
    pin_hash: hash,
    last_active_at: now,
    failed_attempts: 0,
    attempts_since: now,
  };
  await deps.db
    .insertInto('registration_locks')
    .values(row)
    .onConflict((oc) =>
      oc.column('account_id').doUpdateSet({
        pin_salt: salt,
        pin_hash: hash,
        last_active_at: now,
        failed_attempts: 0,
        attempts_since: now,
      }),
    )
    .execute();
  deps.logger.info({ accountId }, 'registration lock set');
}

/** Removes the lock of an account (none: nothing changes). */
export async function removeRegistrationLock(deps: ProviderDeps, accountId: string): Promise<void> {
  await deps.db.deleteFrom('registration_locks').where('account_id', '=', accountId).execute();
}

/** When each account's activity was last written, per process (bounded). */
const lastNoted = new WeakMap<ProviderDeps, Map<string, number>>();

/**
 * Records that an account made an authenticated request (at most hourly per account; within
 * the hour nothing to wait for: undefined, no promise).
 */
export function noteActivity(deps: ProviderDeps, accountId: string): Promise<void> | undefined {
  let seen = lastNoted.get(deps);
  if (!seen) lastNoted.set(deps, (seen = new Map()));
  const now = deps.now();
  const last = seen.get(accountId);
  if (last !== undefined && now - last < ACTIVITY_RESOLUTION_MS) return undefined;
  if (seen.size >= 10_000) seen.clear();
  seen.set(accountId, now);
  return writeActivity(deps, accountId, now);
}

async function writeActivity(deps: ProviderDeps, accountId: string, now: number): Promise<void> {
  await deps.db
    .updateTable('registration_locks')
    .set({ last_active_at: now })
    .where('account_id', '=', accountId)
    .execute();
}

/**
 * Refuses to replace `existing` unless its lock lapsed or `proof` opens it: a signature by its
 * identity key over {@link registrationLockMessage}, or the PIN (wrong PINs are counted per
 * number, at most `pinAttempts.capacity` per window, then 429). 423 `account.registration-locked`.
 */
export async function checkRegistrationLock(
  deps: ProviderDeps,
  existing: AccountsTable,
  proof: ProviderSchema<'RegistrationLockProof'> | undefined,
  sessionId: string,
  newIdentityKey: string,
): Promise<void> {
  const lock = await deps.db
    .selectFrom('registration_locks')
    .selectAll()
    .where('account_id', '=', existing.id)
    .executeTakeFirst();
  const now = deps.now();
  const inactivity = deps.config.registrationLock.inactivitySeconds * 1000;
  if (!lock || now - Number(lock.last_active_at) >= inactivity) return;
  if (proof?.identitySignature !== undefined) {
    const oldKey = PublicKey.deserialize(toArrayBuffer(existing.identity_key));
    const message = registrationLockMessage(existing.number, sessionId, newIdentityKey);
    if (oldKey.verify(toArrayBuffer(message), fromBase64(proof.identitySignature))) return;
    throw locked('the identity-key signature does not verify under the locked account');
  }
  if (proof?.pin === undefined) {
    throw locked(
      'this number has a registration lock; give its PIN or a signature by the old identity key',
    );
  }
  await takePinAttempt(deps, lock.account_id, lock.attempts_since, now);
  const given = await pinHash(proof.pin, lock.pin_salt);
  if (timingSafeEqual(given, Buffer.from(lock.pin_hash))) return;
  throw locked('the registration lock PIN is wrong');
}

/** Reserves one PIN attempt for the account's lock, or answers 429 when the window is used up. */
async function takePinAttempt(
  deps: ProviderDeps,
  accountId: string,
  since: number | string,
  now: number,
): Promise<void> {
  const { capacity, perSeconds } = deps.config.registrationLock.pinAttempts;
  const windowMs = perSeconds * 1000;
  if (now - Number(since) >= windowMs) {
    // A new window; of racing requests only one resets it.
    await deps.db
      .updateTable('registration_locks')
      .set({ failed_attempts: 0, attempts_since: now })
      .where('account_id', '=', accountId)
      .where('attempts_since', '=', since)
      .execute();
  }
  // Counted before the PIN is checked, in one statement, so parallel guesses cannot overrun it.
  const taken = await deps.db
    .updateTable('registration_locks')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('account_id', '=', accountId)
    .where('failed_attempts', '<', capacity)
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) === 1) return;
  const row = await deps.db
    .selectFrom('registration_locks')
    .select('attempts_since')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  const retry = Math.max(
    1,
    Math.ceil((Number(row?.attempts_since ?? now) + windowMs - now) / 1000),
  );
  throw rateLimited(retry, 'registration lock PIN attempts for this number');
}

function locked(message: string): Error {
  return fail('account.registration-locked', message);
}
