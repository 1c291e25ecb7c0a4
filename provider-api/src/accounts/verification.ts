import { createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import { isE164Error, parseE164 } from '@switchboard/e164';
import type { E164Number } from '@switchboard/e164';
import type { RateLimiter } from '@switchboard/service-kit';
import type { ProviderDeps } from '../core/deps.js';
import type { VerificationSessionsTable } from '../store/schema.js';
import { fail, rateLimited } from '../core/errors.js';
import { isoTime, sha256Hex } from '../core/encoding.js';

type SessionView = ProviderSchema<'VerificationSession'>;

/** Parses a number the way every endpoint does: E.164, normalised, or 422 `number.invalid`. */
export function parseNumber(input: string): E164Number {
  try {
    return parseE164(input);
  } catch (err) {
    if (isE164Error(err)) throw fail('number.invalid', err.message);
    throw err;
  }
}

// Used only when no secret is injected (tests, benchmarks): codes then verify in this process.
const processSecret = randomBytes(32);

/**
 * HMAC-SHA-256 of `sessionId:code` under the server's verification secret: a 10^6 code space is
 * not recoverable from the database alone, unlike a plain hash.
 */
export function codeHash(
  deps: Pick<ProviderDeps, 'verificationSecret'>,
  sessionId: string,
  code: string,
): string {
  return createHmac('sha256', deps.verificationSecret ?? processSecret)
    .update(`${sessionId}:${code}`)
    .digest('hex');
}

/** Takes one token from each budget in order; the first that is spent answers 429. */
function takeAll(checks: ReadonlyArray<readonly [RateLimiter, string]>, what: string): void {
  for (const [limiter, key] of checks) {
    const decision = limiter.take(key);
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds, what);
  }
}

/**
 * The budgets a code send spends, narrowest first (so a client refused on its own budget spends
 * nothing shared): the client's, the client's for this number, the number's, the destination
 * range's and the provider's. Numbers are keyed by hash (no numbers in memory dumps).
 */
function takeSend(deps: ProviderDeps, number: string, clientAddress: string): void {
  const limits = deps.limits.verificationSends;
  const digits = number.slice(1, 1 + deps.config.verification.destinationRangeDigits);
  const hashed = sha256Hex(number);
  takeAll(
    [
      [limits.perClient, clientAddress],
      [limits.perNumberAndClient, `${hashed} ${clientAddress}`],
      [limits.perNumber, hashed],
      [limits.perDestinationRange, sha256Hex(`range:${digits}`)],
      [limits.global, 'all'],
    ],
    'code requests',
  );
}

/**
 * The budgets a code submission spends: the client's, and the client's for this number (plus
 * the session's `maxAttempts`, in the database). No budget is the number's alone, so wrong
 * guesses from elsewhere never lock its owner out.
 */
function takeAttempt(deps: ProviderDeps, number: string, clientAddress: string): void {
  const limits = deps.limits.verificationAttempts;
  takeAll(
    [
      [limits.perClient, clientAddress],
      [limits.perNumberAndClient, `${sha256Hex(number)} ${clientAddress}`],
    ],
    'code attempts',
  );
}

function view(deps: ProviderDeps, row: VerificationSessionsTable): SessionView {
  const { maxAttempts, maxSends, resendIntervalSeconds } = deps.config.verification;
  const lastSent = row.last_sent_at === null ? undefined : Number(row.last_sent_at);
  return {
    sessionId: row.id,
    verified: row.verified_at !== null,
    codeSent: row.code_hash !== null || row.verified_at !== null,
    expiresAt: isoTime(row.expires_at),
    ...(row.code_expires_at === null ? {} : { codeExpiresAt: isoTime(row.code_expires_at) }),
    ...(lastSent === undefined || row.verified_at !== null
      ? {}
      : { nextCodeAt: isoTime(lastSent + resendIntervalSeconds * 1000) }),
    ...(row.verified_at === null ? {} : { verifiedAt: Math.floor(Number(row.verified_at) / 1000) }),
    attemptsLeft: Math.max(0, maxAttempts - row.attempts),
    resendsLeft: Math.max(0, maxSends - row.sends),
  };
}

/** Loads a live session or fails with 404 / 410. */
export async function liveSession(
  deps: ProviderDeps,
  sessionId: string,
): Promise<VerificationSessionsTable> {
  const row = await deps.db
    .selectFrom('verification_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .executeTakeFirst();
  if (!row) throw fail('verification.session-not-found', 'no such verification session');
  if (Number(row.expires_at) <= deps.now()) {
    throw fail('verification.session-expired', 'the verification session expired; open a new one');
  }
  return row;
}

/**
 * Opens a session. The answer never depends on whether the number has an account here, so the
 * endpoint cannot be used to enumerate users.
 */
export async function createSession(
  deps: ProviderDeps,
  input: { number: string },
  clientAddress: string,
): Promise<SessionView> {
  const number = parseNumber(input.number);
  const perAddress = deps.limits.verificationPerAddress.take(clientAddress);
  if (!perAddress.allowed) throw rateLimited(perAddress.retryAfterSeconds, 'verification sessions');
  const now = deps.now();
  const row: VerificationSessionsTable = {
    id: randomUUID(),
    number,
    code_hash: null,
    code_expires_at: null,
    last_sent_at: null,
    sends: 0,
    attempts: 0,
    verified_at: null,
    created_at: now,
    expires_at: now + deps.config.verification.sessionTtlSeconds * 1000,
  };
  await deps.db.insertInto('verification_sessions').values(row).execute();
  // Expired sessions are garbage; removing them here keeps the table small without a timer.
  await deps.db.deleteFrom('verification_sessions').where('expires_at', '<', now).execute();
  return view(deps, row);
}

/** The state of a session. */
export async function getSession(deps: ProviderDeps, sessionId: string): Promise<SessionView> {
  return view(deps, await liveSession(deps, sessionId));
}

/** Sends (or resends) a code, within the per-session, per-number and per-address limits. */
export async function requestCode(
  deps: ProviderDeps,
  sessionId: string,
  input: { transport: 'sms' | 'voice'; locale?: string },
  clientAddress: string,
): Promise<SessionView> {
  const { maxSends, resendIntervalSeconds, codeTtlSeconds } = deps.config.verification;
  const row = await liveSession(deps, sessionId);
  if (row.verified_at !== null) {
    throw fail('verification.already-verified', 'this session is already verified; register now');
  }
  const now = deps.now();
  if (row.sends >= maxSends) {
    const wait = Math.max(1, Math.ceil((Number(row.expires_at) - now) / 1000));
    throw rateLimited(wait, 'codes for this session; open a new session later');
  }
  if (row.last_sent_at !== null) {
    const next = Number(row.last_sent_at) + resendIntervalSeconds * 1000;
    if (next > now) throw rateLimited(Math.ceil((next - now) / 1000), 'code requests');
  }
  takeSend(deps, row.number, clientAddress);
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  // Claim the send slot first (compare-and-set on `sends`) so concurrent requests cannot exceed it.
  const claimed = await deps.db
    .updateTable('verification_sessions')
    .set({
      sends: row.sends + 1,
      last_sent_at: now,
      code_hash: codeHash(deps, row.id, code),
      code_expires_at: now + codeTtlSeconds * 1000,
    })
    .where('id', '=', row.id)
    .where('sends', '=', row.sends)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) throw rateLimited(1, 'concurrent code requests');
  try {
    await deps.codeSender.send({
      to: row.number,
      code,
      transport: input.transport,
      ...(input.locale ? { locale: input.locale } : {}),
    });
  } catch (err) {
    deps.logger.warn({ err }, 'verification code sender failed');
    throw fail('verification.sender-failed', 'the code could not be sent; try again later');
  }
  return view(deps, await liveSession(deps, sessionId));
}

/** Checks a submitted code in constant time, within the attempt limits. */
export async function submitCode(
  deps: ProviderDeps,
  sessionId: string,
  input: { code: string },
  clientAddress: string,
): Promise<SessionView> {
  const { maxAttempts } = deps.config.verification;
  const row = await liveSession(deps, sessionId);
  if (row.verified_at !== null) {
    throw fail('verification.already-verified', 'this session is already verified; register now');
  }
  if (row.code_hash === null) {
    throw fail('verification.no-code-sent', 'request a code for this session first');
  }
  const now = deps.now();
  if (row.attempts >= maxAttempts) {
    const wait = Math.max(1, Math.ceil((Number(row.expires_at) - now) / 1000));
    throw rateLimited(wait, 'wrong codes for this session; open a new session later');
  }
  takeAttempt(deps, row.number, clientAddress);
  const counted = await deps.db
    .updateTable('verification_sessions')
    .set({ attempts: row.attempts + 1 })
    .where('id', '=', row.id)
    .where('attempts', '=', row.attempts)
    .executeTakeFirst();
  if (Number(counted.numUpdatedRows) !== 1) throw rateLimited(1, 'concurrent code attempts');
  if (row.code_expires_at === null || Number(row.code_expires_at) <= now) {
    throw fail('verification.code-expired', 'the code expired; request a new one');
  }
  const expected = Buffer.from(row.code_hash, 'hex');
  const actual = Buffer.from(codeHash(deps, row.id, input.code), 'hex');
  if (!timingSafeEqual(expected, actual)) {
    throw fail('verification.code-incorrect', 'the code does not match');
  }
  await deps.db
    .updateTable('verification_sessions')
    .set({ verified_at: now, code_hash: null, code_expires_at: null })
    .where('id', '=', row.id)
    .execute();
  return view(deps, await liveSession(deps, sessionId));
}
