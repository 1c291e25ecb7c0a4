import { randomUUID, verify as verifyEd25519 } from 'node:crypto';
import { PublicKey } from '@signalapp/libsignal-client';
import type { ProviderSchema } from '@switchboard/openapi';
import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { ProviderDeps } from '../core/deps.js';
import type { AccountsTable, ProviderTables, VerificationSessionsTable } from '../store/schema.js';
import type { CheckedKey } from '../core/keys.js';
import {
  checkKyberPreKey,
  checkOneTimeKyberPreKeys,
  checkOneTimePreKeys,
  checkSignedPreKey,
  parseIdentityKey,
} from '../core/keys.js';
import { fail } from '../core/errors.js';
import {
  ed25519PublicKey,
  fromBase64,
  isoTime,
  toArrayBuffer,
  toBase64,
} from '../core/encoding.js';
import { liveSession } from './verification.js';
import type { DirectoryContact, DirectoryPublisher, MoveProof } from '../core/directory-client.js';
import { DirectoryPublishError } from '../core/directory-client.js';
import { checkRegistrationLock } from './registration-lock.js';
import { carryLedgerOver } from '../billing/ledger.js';

type AccountView = ProviderSchema<'Account'>;
type RegisterInput = ProviderSchema<'RegisterAccount'>;

/** The one device per account in this version (libsignal device id). */
export const DEVICE_ID = 1;

/** The API view of an account row. */
export function accountView(row: AccountsTable): AccountView {
  return {
    accountId: row.id,
    number: row.number,
    deviceId: DEVICE_ID,
    discoverable: row.discoverable === 1,
    contacts: JSON.parse(row.contacts) as DirectoryContact[],
    createdAt: isoTime(row.created_at),
  };
}

/** Loads an account by id or fails with 404 `account.not-found`. */
export async function loadAccount(
  db: Kysely<ProviderTables>,
  accountId: string,
): Promise<AccountsTable> {
  const row = await db
    .selectFrom('accounts')
    .selectAll()
    .where('id', '=', accountId)
    .executeTakeFirst();
  if (!row) throw fail('account.not-found', 'the account no longer exists');
  return row;
}

/** Inserts one-time prekeys of a kind. */
export async function insertOneTimePreKeys(
  tx: Kysely<ProviderTables>,
  accountId: string,
  kind: 'ec' | 'kyber',
  keys: readonly CheckedKey[],
): Promise<void> {
  // Batches keep each statement under SQLite's bound-parameter limit.
  for (let i = 0; i < keys.length; i += 100) {
    await tx
      .insertInto('one_time_prekeys')
      .values(
        keys.slice(i, i + 100).map((k) => ({
          account_id: accountId,
          kind,
          key_id: k.keyId,
          public_key: k.publicKey,
          signature: k.signature,
        })),
      )
      .execute();
  }
}

async function checkRelease(
  deps: ProviderDeps,
  number: string,
  release: { from: string; expiresAt: number; signature: string },
): Promise<void> {
  if (release.expiresAt * 1000 <= deps.now()) {
    throw fail(
      'port.authorisation-expired',
      'the release expired; ask the losing provider for a new one',
    );
  }
  // Fail closed: without a verified trust list no release is accepted here.
  const keys = deps.providerKeys ? await deps.providerKeys(release.from) : undefined;
  if (keys === undefined) {
    throw fail(
      'service.unavailable',
      'this provider has no verified trust list; number moves are refused for now',
    );
  }
  const message = Buffer.from(
    `switchboard-release-v1\n${number}\n${release.from}\n${deps.config.providerId}\n${release.expiresAt}`,
  );
  const signature = Buffer.from(release.signature, 'base64');
  if (!keys.some((k) => verifyEd25519(null, message, k, signature))) {
    throw fail('port.authorisation-invalid', 'the release is not signed by the losing provider');
  }
}

/**
 * Registers an account for a verified session, atomically: either every key is stored and the
 * session consumed, or nothing changes. Registering a number that has an account here replaces
 * it (the old account's keys are deleted; if it was published, it is withdrawn first).
 */
export async function registerAccount(
  deps: ProviderDeps,
  input: RegisterInput,
): Promise<AccountView> {
  const session = await liveSession(deps, input.sessionId);
  if (session.verified_at === null) {
    throw fail(
      'verification.not-verified',
      'verify the number (submit the code) before registering',
    );
  }
  const keys = checkRegistrationKeys(input);
  const move = await pendingMoveOf(deps, session, input);
  const existing = await deps.db
    .selectFrom('accounts')
    .selectAll()
    .where('number', '=', session.number)
    .executeTakeFirst();
  if (existing) {
    await checkRegistrationLock(
      deps,
      existing,
      input.registrationLock,
      session.id,
      input.identityKey,
    );
  }
  const replacesPublished = existing?.discoverable === 1;
  if (replacesPublished && !deps.directory) {
    throw fail('directory.not-configured', 'no directory is configured here');
  }
  const now = deps.now();
  const row: AccountsTable = {
    id: randomUUID(),
    number: session.number,
    registration_id: input.registrationId,
    identity_key: keys.identity.serialize(),
    device_key: keys.deviceKey,
    signed_prekey_id: keys.signedPreKey.keyId,
    signed_prekey: keys.signedPreKey.publicKey,
    signed_prekey_signature: keys.signedPreKey.signature ?? new Uint8Array(),
    kyber_last_resort_id: keys.lastResort.keyId,
    kyber_last_resort: keys.lastResort.publicKey,
    kyber_last_resort_signature: keys.lastResort.signature ?? new Uint8Array(),
    discoverable: 0,
    contacts: '[]',
    pending_move: move.pendingMove
      ? JSON.stringify({ move: move.pendingMove, portOutId: move.portOutId })
      : null,
    verified_at: Number(session.verified_at),
    created_at: now,
  };
  await storeRegistration(
    deps,
    session.id,
    row,
    existing,
    keys,
    replacesPublished ? now : undefined,
  );
  deps.logger.info({ accountId: row.id }, 'account registered');
  if (replacesPublished) await settleWithdrawal(deps, row.number);
  return accountView(row);
}

/** The keys of a registration, each checked (signatures by the identity key included). */
function checkRegistrationKeys(input: RegisterInput) {
  const identity = parseIdentityKey(input.identityKey);
  const signedPreKey = checkSignedPreKey(identity, input.signedPreKey);
  const lastResort = checkKyberPreKey(identity, input.kyberLastResortPreKey);
  const oneTime = checkOneTimePreKeys(input.oneTimePreKeys);
  const oneTimeKyber = checkOneTimeKyberPreKeys(identity, input.oneTimeKyberPreKeys ?? []);
  const deviceKey = fromBase64(input.deviceKey);
  if (!ed25519PublicKey(deviceKey)) {
    throw fail(
      'keys.device-key-invalid',
      'the device key must be a raw 32-byte Ed25519 public key',
    );
  }
  return { identity, signedPreKey, lastResort, oneTime, oneTimeKyber, deviceKey };
}

/** The move proof a port-in carries (a checked release, or the identity key's signature). */
async function pendingMoveOf(
  deps: ProviderDeps,
  session: VerificationSessionsTable,
  input: RegisterInput,
): Promise<{ pendingMove?: MoveProof; portOutId?: string }> {
  if (input.portIn?.kind === 'release') {
    await checkRelease(deps, session.number, input.portIn);
    return {
      pendingMove: {
        kind: 'release',
        from: input.portIn.from,
        expiresAt: input.portIn.expiresAt,
        signature: input.portIn.signature,
      },
      ...(input.portIn.portOutId ? { portOutId: input.portIn.portOutId } : {}),
    };
  }
  if (input.portIn?.kind === 'identity-key') {
    return {
      pendingMove: {
        kind: 'identity-key',
        verifiedAt: Math.floor(Number(session.verified_at) / 1000),
        signature: input.portIn.signature,
      },
    };
  }
  return {};
}

/** Consumes the session and stores the account, its one-time prekeys and what it carries over. */
async function storeRegistration(
  deps: ProviderDeps,
  sessionId: string,
  row: AccountsTable,
  existing: AccountsTable | undefined,
  keys: ReturnType<typeof checkRegistrationKeys>,
  /** When it replaces a published account: now, when the withdrawal becomes owed. */
  withdrawalOwedAt: number | undefined,
): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    // The session is single-use: whoever deletes it first registers.
    const consumed = await tx
      .deleteFrom('verification_sessions')
      .where('id', '=', sessionId)
      .executeTakeFirst();
    if (Number(consumed.numDeletedRows) !== 1) {
      throw fail('verification.session-not-found', 'the verification session was already used');
    }
    await deleteAccountRows(tx, row.number);
    await tx.insertInto('accounts').values(row).execute();
    if (existing) await carryLedgerOver(tx, existing.id, row.id);
    await insertOneTimePreKeys(tx, row.id, 'ec', keys.oneTime);
    await insertOneTimePreKeys(tx, row.id, 'kyber', keys.oneTimeKyber);
    if (withdrawalOwedAt !== undefined) {
      // The old entry is withdrawn only once this commits; until the directory confirms, the
      // withdrawal stays owed here and `reconcileDirectory` retries it.
      await oweWithdrawal(tx, row.number, withdrawalOwedAt);
    }
  });
}

/**
 * Performs an owed withdrawal of `number`; true when none is owed any more. A number that is
 * discoverable here again was re-published since, so nothing is withdrawn. Failures are logged
 * and the withdrawal stays owed.
 */
export async function settleWithdrawal(deps: ProviderDeps, number: string): Promise<boolean> {
  return withNumberLock(deps, number, () => settleLocked(deps, number));
}

async function settleLocked(deps: ProviderDeps, number: string): Promise<boolean> {
  try {
    const published = await deps.db
      .selectFrom('accounts')
      .select('id')
      .where('number', '=', number)
      .where('discoverable', '=', 1)
      .executeTakeFirst();
    if (!published) {
      if (!deps.directory) return false;
      await deps.directory.withdraw(number);
    }
    await deps.db
      .deleteFrom('directory_pending_withdrawals')
      .where('number', '=', number)
      .execute();
    return true;
  } catch (err) {
    deps.logger.warn(
      { err: err instanceof DirectoryPublishError ? err.message : err },
      'directory withdrawal still owed',
    );
    return false;
  }
}

/** Retries every owed directory withdrawal (the service runs it periodically); how many remain. */
export async function reconcileDirectory(deps: ProviderDeps): Promise<number> {
  const owed = await deps.db
    .selectFrom('directory_pending_withdrawals')
    .select('number')
    .orderBy('created_at')
    .limit(100)
    .execute();
  let remaining = 0;
  for (const { number } of owed) if (!(await settleWithdrawal(deps, number))) remaining++;
  return remaining;
}

/** Deletes an account (by number) with its prekeys, port-outs and registration lock, in a transaction. */
export async function deleteAccountRows(
  tx: Transaction<ProviderTables> | Kysely<ProviderTables>,
  number: string,
): Promise<void> {
  const old = await tx.selectFrom('accounts').select('id').where('number', '=', number).execute();
  for (const { id } of old) {
    await tx.deleteFrom('one_time_prekeys').where('account_id', '=', id).execute();
    await tx.deleteFrom('prekey_cursors').where('account_id', '=', id).execute();
    await tx.deleteFrom('port_outs').where('account_id', '=', id).execute();
    await tx.deleteFrom('registration_locks').where('account_id', '=', id).execute();
    await tx.deleteFrom('accounts').where('id', '=', id).execute();
  }
}

/** Directory changes under way in this process, per number (see {@link withNumberLock}). */
const numberLocks = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` while no other directory change for `number` runs: in this process through a queue
 * per number, and across replicas on PostgreSQL through a transaction holding an advisory lock
 * for the number while `fn` runs (its own queries use other connections).
 */
export async function withNumberLock<T>(
  deps: ProviderDeps,
  number: string,
  fn: () => Promise<T>,
): Promise<T> {
  const before = numberLocks.get(number) ?? Promise.resolve();
  const run = before
    .catch(() => undefined)
    .then(() =>
      deps.dialect === 'postgres'
        ? deps.db.transaction().execute(async (tx) => {
            await sql`select pg_advisory_xact_lock(hashtext(${`directory:${number}`}))`.execute(tx);
            return fn();
          })
        : fn(),
    );
  numberLocks.set(number, run);
  try {
    return await run;
  } finally {
    if (numberLocks.get(number) === run) numberLocks.delete(number);
  }
}

/** Records (in `tx`, when given one) that the directory entry of `number` is owed a withdrawal. */
export async function oweWithdrawal(
  tx: Transaction<ProviderTables> | Kysely<ProviderTables>,
  number: string,
  now: number,
): Promise<void> {
  await tx
    .insertInto('directory_pending_withdrawals')
    .values({ number, created_at: now })
    .onConflict((oc) => oc.column('number').doNothing())
    .execute();
}

function directoryFailure(deps: ProviderDeps, err: unknown): Error {
  if (err instanceof DirectoryPublishError) {
    deps.logger.warn({ status: err.status, problem: err.problemCode }, 'directory refused');
    // Contacts the directory cannot publish (e.g. over its limits in octets) are the user's input.
    if (err.status === 400 && err.problemCode === 'invalid-contact') {
      return fail('request.invalid', 'the directory refused these contacts', {
        errors: [
          { pointer: '/body/contacts', message: 'refused by the directory (invalid-contact)' },
        ],
      });
    }
    return fail('directory.publish-failed', err.message);
  }
  return err instanceof Error ? err : new Error('directory call failed');
}

/**
 * Deletes the account and its keys at once, and withdraws it from the directory: the withdrawal
 * is recorded as owed in the same transaction and carried out right after, or by
 * `reconcileDirectory` if the directory cannot be reached now (deleting never waits on it).
 */
export async function deleteAccount(deps: ProviderDeps, accountId: string): Promise<void> {
  const row = await loadAccount(deps.db, accountId);
  const published = row.discoverable === 1;
  await deps.db.transaction().execute(async (tx) => {
    await deleteAccountRows(tx, row.number);
    if (published) await oweWithdrawal(tx, row.number, deps.now());
  });
  deps.logger.info({ accountId }, 'account deleted');
  if (published) await settleWithdrawal(deps, row.number);
}

type Contacts = NonNullable<ProviderSchema<'Discoverability'>['contacts']>;

/** A pending port-in: the move proof to publish with, and the losing provider's port-out id. */
interface PendingMove {
  readonly move: MoveProof;
  readonly portOutId?: string;
}

/**
 * Opts in (publishing the chosen contacts and the identity key, with a pending move proof if
 * the number was ported in; the local state changes only after the directory accepted) or out
 * (recorded here at once with the withdrawal owed, which is carried out right after or by
 * `reconcileDirectory`, as for deletion).
 */
export async function setDiscoverability(
  deps: ProviderDeps,
  accountId: string,
  input: ProviderSchema<'Discoverability'>,
): Promise<AccountView> {
  const row = await loadAccount(deps.db, accountId);
  if (input.discoverable) await optIn(deps, row, input.contacts ?? []);
  else await optOut(deps, row);
  return accountView(await loadAccount(deps.db, accountId));
}

/** One contact per service, at least one. */
function checkOptInContacts(contacts: Contacts): void {
  if (contacts.length === 0) {
    throw fail('request.invalid', 'choose at least one contact method to publish', {
      errors: [{ pointer: '/body/contacts', message: 'must have at least 1 item to opt in' }],
    });
  }
  const services = new Set(contacts.map((c) => c.service));
  if (services.size !== contacts.length) {
    throw fail('request.invalid', 'publish at most one contact per service', {
      errors: [{ pointer: '/body/contacts', message: 'must not repeat a service' }],
    });
  }
}

async function optIn(deps: ProviderDeps, row: AccountsTable, contacts: Contacts): Promise<void> {
  checkOptInContacts(contacts);
  if (!deps.directory) throw fail('directory.not-configured', 'no directory is configured here');
  const directory = deps.directory;
  const pending = row.pending_move ? (JSON.parse(row.pending_move) as PendingMove) : undefined;
  // Under the number's lock, so that an owed withdrawal being carried out cannot remove the
  // entry this publishes (it finishes first, or sees the number published here again).
  await withNumberLock(deps, row.number, async () => {
    await publishEntry(deps, directory, row, contacts, pending?.move);
    await recordPublished(deps, directory, row, contacts);
  });
  if (pending) await completeMoveAtLosingProvider(deps, pending);
}

/** Publishes the entry; an owed withdrawal is moot once it succeeds, and owed again if not. */
async function publishEntry(
  deps: ProviderDeps,
  directory: DirectoryPublisher,
  row: AccountsTable,
  contacts: Contacts,
  move: MoveProof | undefined,
): Promise<void> {
  const owed = await deps.db
    .deleteFrom('directory_pending_withdrawals')
    .where('number', '=', row.number)
    .executeTakeFirst();
  try {
    await directory.publish(row.number, {
      identityKey: toBase64(PublicKey.deserialize(toArrayBuffer(row.identity_key)).serialize()),
      contacts,
      ...(move ? { move } : {}),
    });
  } catch (err) {
    if (Number(owed.numDeletedRows) > 0) await oweWithdrawal(deps.db, row.number, deps.now());
    throw directoryFailure(deps, err);
  }
}

/** Records the published entry here; if that fails, takes a new entry back from the directory. */
async function recordPublished(
  deps: ProviderDeps,
  directory: DirectoryPublisher,
  row: AccountsTable,
  contacts: Contacts,
): Promise<void> {
  try {
    await deps.db
      .updateTable('accounts')
      .set({ discoverable: 1, contacts: JSON.stringify(contacts), pending_move: null })
      .where('id', '=', row.id)
      .execute();
  } catch (err) {
    // Published but not recorded: take the new entry back so both sides say "not listed".
    if (row.discoverable === 0) {
      await directory.withdraw(row.number).catch((e: unknown) => {
        deps.logger.error({ err: e }, 'published entry left in the directory after a failure');
      });
    }
    throw err;
  }
}

/**
 * The directory switched: the losing provider may now delete its copy. Best effort; the
 * release expires anyway and the user can complete it later.
 */
async function completeMoveAtLosingProvider(
  deps: ProviderDeps,
  { move, portOutId }: PendingMove,
): Promise<void> {
  if (move.kind !== 'release' || !portOutId || !deps.completePortOutAt) return;
  await deps.completePortOutAt(move.from, portOutId, move.signature).catch((err: unknown) => {
    deps.logger.warn({ err }, 'could not tell the losing provider that the move completed');
  });
}

/** Opts out here at once, the withdrawal owed in the same transaction and carried out after. */
async function optOut(deps: ProviderDeps, row: AccountsTable): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('accounts')
      .set({ discoverable: 0, contacts: '[]' })
      .where('id', '=', row.id)
      .execute();
    if (row.discoverable === 1) await oweWithdrawal(tx, row.number, deps.now());
  });
  if (row.discoverable === 1) await settleWithdrawal(deps, row.number);
}
