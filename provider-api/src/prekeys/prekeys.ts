import { createHash } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import { PublicKey } from '@signalapp/libsignal-client';
import type { ProviderDeps } from '../core/deps.js';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { AccountsTable, OneTimePrekeysTable, ProviderTables } from '../store/schema.js';
import { precompiled } from '../store/precompiled.js';
import { commitSoon } from '../store/group-commit.js';
import { fail, rateLimited } from '../core/errors.js';
import { DEVICE_ID, insertOneTimePreKeys, loadAccount } from '../accounts/accounts.js';
import {
  checkKyberPreKey,
  checkOneTimeKyberPreKeys,
  checkOneTimePreKeys,
  checkSignedPreKey,
} from '../core/keys.js';
import { toArrayBuffer, toBase64 } from '../core/encoding.js';
import { parseNumber } from '../accounts/verification.js';
import { ProviderApiError } from '@switchboard/openapi';
import { NotedNonce } from '../core/replay-cache.js';
import { noteActivity } from '../accounts/registration-lock.js';

type PrekeyCount = ProviderSchema<'PrekeyCount'>;
type Bundle = ProviderSchema<'PrekeyBundle'>;

/** How many one-time prekeys of each kind an account has left (not taken). */
export async function countPrekeys(deps: ProviderDeps, accountId: string): Promise<PrekeyCount> {
  const rows = await deps.db
    .selectFrom('one_time_prekeys')
    .select(['kind', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('account_id', '=', accountId)
    .where((eb) =>
      eb.or(
        (['ec', 'kyber'] as const).map((kind) =>
          eb.and([eb('kind', '=', kind), eb('key_id', '>=', cursorOf(accountId, kind))]),
        ),
      ),
    )
    .groupBy('kind')
    .execute();
  const of = (kind: string): number => Number(rows.find((r) => r.kind === kind)?.n ?? 0);
  return { oneTimePreKeys: of('ec'), oneTimeKyberPreKeys: of('kyber') };
}

/**
 * Tops up one-time prekeys and optionally rotates the signed and last-resort prekeys; every
 * signature is checked with the account's identity key. All or nothing.
 */
export async function uploadPrekeys(
  deps: ProviderDeps,
  accountId: string,
  input: ProviderSchema<'UploadPrekeys'>,
): Promise<PrekeyCount> {
  const account = await loadAccount(deps.db, accountId);
  const identity = PublicKey.deserialize(toArrayBuffer(account.identity_key));
  const ec = checkOneTimePreKeys(input.oneTimePreKeys ?? []);
  const kyber = checkOneTimeKyberPreKeys(identity, input.oneTimeKyberPreKeys ?? []);
  const signed = input.signedPreKey ? checkSignedPreKey(identity, input.signedPreKey) : undefined;
  const lastResort = input.kyberLastResortPreKey
    ? checkKyberPreKey(identity, input.kyberLastResortPreKey)
    : undefined;
  const max = deps.config.prekeys.maxStoredPerKind;
  await deps.db.transaction().execute(async (tx) => {
    await dropTakenPreKeys(tx, accountId);
    for (const [kind, keys] of [
      ['ec', ec],
      ['kyber', kyber],
    ] as const) {
      if (keys.length === 0) continue;
      const existing = await tx
        .selectFrom('one_time_prekeys')
        .select('key_id')
        .where('account_id', '=', accountId)
        .where('kind', '=', kind)
        .execute();
      if (existing.length + keys.length > max) {
        throw fail(
          'keys.too-many-prekeys',
          `at most ${max} one-time prekeys of each kind are kept`,
        );
      }
      const ids = new Set(existing.map((r) => r.key_id));
      const clash = keys.find((k) => ids.has(k.keyId));
      if (clash) {
        throw fail('keys.duplicate-key-id', `one-time prekey id ${clash.keyId} is already stored`);
      }
      await insertOneTimePreKeys(tx, accountId, kind, keys);
    }
    if (signed || lastResort) {
      await tx
        .updateTable('accounts')
        .set({
          ...(signed
            ? {
                signed_prekey_id: signed.keyId,
                signed_prekey: signed.publicKey,
                signed_prekey_signature: signed.signature ?? new Uint8Array(),
              }
            : {}),
          ...(lastResort
            ? {
                kyber_last_resort_id: lastResort.keyId,
                kyber_last_resort: lastResort.publicKey,
                kyber_last_resort_signature: lastResort.signature ?? new Uint8Array(),
              }
            : {}),
        })
        .where('id', '=', accountId)
        .execute();
    }
  });
  return countPrekeys(deps, accountId);
}

/**
 * The digest the client compares with its own to detect drift: SHA-256 over identity key,
 * signed prekey id (u32 BE), signed prekey, last-resort id (u32 BE), last-resort key.
 */
export function keyDigest(account: AccountsTable): Buffer {
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return createHash('sha256')
    .update(account.identity_key)
    .update(u32(account.signed_prekey_id))
    .update(account.signed_prekey)
    .update(u32(account.kyber_last_resort_id))
    .update(account.kyber_last_resort)
    .digest();
}

/** Compares the client's digest with the stored keys'. */
export async function checkDigest(
  deps: ProviderDeps,
  accountId: string,
  digest: string,
): Promise<{ matches: boolean }> {
  const account = await loadAccount(deps.db, accountId);
  return { matches: keyDigest(account).equals(Buffer.from(digest, 'base64')) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The account columns a bundle is made of, and the asker's contact row with it (`first_at` is
 * null when there is none), read in one statement.
 */
const TARGET_COLUMNS = [
  'accounts.id',
  'accounts.registration_id',
  'accounts.identity_key',
  'accounts.signed_prekey_id',
  'accounts.signed_prekey',
  'accounts.signed_prekey_signature',
  'accounts.kyber_last_resort_id',
  'accounts.kyber_last_resort',
  'accounts.kyber_last_resort_signature',
  'accounts.discoverable',
  'prekey_contacts.first_at',
  'prekey_contacts.one_time_at',
] as const;

function targetQuery(by: 'id' | 'number') {
  const names = ['address', 'asker', 'cutoff', 'reserved'] as const;
  return precompiled(names, (db: Kysely<ProviderTables>, p) =>
    db
      .selectFrom('accounts')
      .leftJoin('prekey_contacts', (join) =>
        join
          .onRef('prekey_contacts.target_id', '=', 'accounts.id')
          .on('prekey_contacts.asker', '=', p.asker),
      )
      .select(TARGET_COLUMNS)
      // Read only when the pair's one-time keys are due again (CASE evaluates lazily): the
      // reserve check of oneTimeKeysDue in this statement, not one of its own.
      .select(
        sql<boolean | number | null>`CASE WHEN prekey_contacts.one_time_at <= ${p.cutoff}
          THEN ${reserveCheck(db, sql.ref('accounts.id'), p.reserved)} END`.as('above_reserve'),
      )
      .where(`accounts.${by}`, '=', p.address)
      // By number only for accounts that chose to be discoverable: others are reachable by id.
      .$if(by === 'number', (qb) => qb.where('accounts.discoverable', '=', 1)),
  );
}
const targetById = targetQuery('id');
const targetByNumber = targetQuery('number');

type Target = Pick<
  AccountsTable,
  | 'id'
  | 'registration_id'
  | 'identity_key'
  | 'signed_prekey_id'
  | 'signed_prekey'
  | 'signed_prekey_signature'
  | 'kyber_last_resort_id'
  | 'kyber_last_resort'
  | 'kyber_last_resort_signature'
  | 'discoverable'
> & {
  readonly first_at: number | string | null;
  readonly one_time_at: number | string | null;
  /** Whether keys above the reserve remain; null: not read (one-time keys not due by then). */
  readonly above_reserve: boolean | number | null;
};

/** The account at `address` with `asker`'s contact row (`first_at` null: none yet). */
async function findTarget(
  deps: ProviderDeps,
  address: string,
  asker: string,
  via: Kysely<ProviderTables>,
): Promise<Target | undefined> {
  const { oneTimeKeysPerPairSeconds, reservedOneTimeKeys: reserved } = deps.config.prekeys;
  const cutoff = deps.now() - oneTimeKeysPerPairSeconds * 1000;
  if (UUID.test(address)) {
    return (await targetById(deps.db, { address, asker, cutoff, reserved }, via))[0];
  }
  let number: string;
  try {
    number = parseNumber(address);
  } catch (err) {
    if (err instanceof ProviderApiError) return undefined;
    throw err;
  }
  return (await targetByNumber(deps.db, { address: number, asker, cutoff, reserved }, via))[0];
}

/**
 * PostgreSQL: takes the one-time prekey with the lowest key id of each kind off an account (as
 * Signal's server does; the unique index on account, kind and key id finds it without sorting)
 * in one statement, atomically; each row is picked with `FOR UPDATE SKIP LOCKED`, so
 * concurrent fetches never get the same key and never wait on each other.
 */
const takeAndDelete = precompiled(['account'], (db: Kysely<ProviderTables>, p) => {
  const oldest = (kind: 'ec' | 'kyber') =>
    db
      .selectFrom('one_time_prekeys')
      .select('id')
      .where('account_id', '=', p.account)
      .where('kind', '=', kind)
      .orderBy('key_id')
      .limit(1)
      .forUpdate()
      .skipLocked();
  return db
    .deleteFrom('one_time_prekeys')
    .where((eb) => eb.or([eb('id', '=', oldest('ec')), eb('id', '=', oldest('kyber'))]))
    .returning(['kind', 'key_id', 'public_key', 'signature']);
});

/** SQL of the lowest key id of `kind` at or above the account's cursor (in `prekey_cursors`). */
const nextKeyId = (kind: 'ec' | 'kyber') =>
  sql`(SELECT k.key_id FROM one_time_prekeys k WHERE k.account_id = prekey_cursors.account_id
    AND k.kind = ${kind} AND k.key_id >= prekey_cursors.${sql.ref(`${kind}_next`)}
    ORDER BY k.key_id LIMIT 1)`;

/** SQL of a column of the key of `kind` the take just handed out (null: none). */
const takenColumn = (kind: 'ec' | 'kyber', column: 'public_key' | 'signature') =>
  sql`(SELECT k.${sql.ref(column)} FROM one_time_prekeys k
    WHERE k.account_id = prekey_cursors.account_id AND k.kind = ${kind}
    AND k.key_id = prekey_cursors.${sql.ref(`${kind}_taken`)})`;

interface CursorTake {
  readonly ec_taken: number | null;
  readonly ec_public_key: Uint8Array | null;
  readonly kyber_taken: number | null;
  readonly kyber_public_key: Uint8Array | null;
  readonly kyber_signature: Uint8Array | null;
}

/**
 * SQLite: takes the lowest one-time prekey of each kind at or above the account's cursor by
 * moving the cursor past it, in one statement (atomic: SQLite runs one statement at a time).
 * SET sees the row as it was, so `*_taken` is the key found (null: none) and `*_next` moves past
 * it; RETURNING reads the key's row, still there (rows below the cursor are deleted later, by
 * `sweepTakenPreKeys` or an upload). No row back: the account has no cursor yet.
 */
const takeByCursor = precompiled(['account'], (db: Kysely<ProviderTables>, p) => ({
  compile: () =>
    sql<CursorTake>`UPDATE prekey_cursors SET
      ec_taken = ${nextKeyId('ec')}, ec_next = coalesce(${nextKeyId('ec')} + 1, ec_next),
      kyber_taken = ${nextKeyId('kyber')},
      kyber_next = coalesce(${nextKeyId('kyber')} + 1, kyber_next)
      WHERE account_id = ${p.account}
      RETURNING ec_taken, ${takenColumn('ec', 'public_key')} AS ec_public_key,
        kyber_taken, ${takenColumn('kyber', 'public_key')} AS kyber_public_key,
        ${takenColumn('kyber', 'signature')} AS kyber_signature`.compile(db),
}));

const addCursor = precompiled(['account'], (db: Kysely<ProviderTables>, p) =>
  db
    .insertInto('prekey_cursors')
    .values({ account_id: p.account, ec_taken: null, kyber_taken: null })
    .onConflict((oc) => oc.column('account_id').doNothing()),
);

type TakenPreKey = Pick<OneTimePrekeysTable, 'kind' | 'key_id' | 'public_key' | 'signature'>;

function keysOf(row: CursorTake): TakenPreKey[] {
  const taken: TakenPreKey[] = [];
  if (row.ec_taken !== null && row.ec_public_key !== null) {
    taken.push({
      kind: 'ec',
      key_id: row.ec_taken,
      public_key: row.ec_public_key,
      signature: null,
    });
  }
  if (row.kyber_taken !== null && row.kyber_public_key !== null) {
    const { kyber_taken: key_id, kyber_public_key: public_key, kyber_signature: signature } = row;
    taken.push({ kind: 'kyber', key_id, public_key, signature });
  }
  return taken;
}

/** SQLite: {@link takeByCursor}, adding the account's cursor first when it has none. */
async function takeOnSqlite(
  db: Kysely<ProviderTables>,
  account: string,
  via: Kysely<ProviderTables>,
): Promise<TakenPreKey[]> {
  let [row] = await takeByCursor(db, { account }, via);
  if (!row) {
    await addCursor(db, { account }, via);
    [row] = await takeByCursor(db, { account }, via);
  }
  return row ? keysOf(row) : [];
}

/**
 * Takes the lowest one-time prekey of each kind (when any remain) off `account`, on `via` (the
 * database or a transaction opened on it): never the same key twice.
 */
export function takeOneTimePreKeys(
  deps: Pick<ProviderDeps, 'db' | 'dialect'>,
  account: string,
  via: Kysely<ProviderTables> = deps.db,
): Promise<TakenPreKey[]> {
  return deps.dialect === 'sqlite'
    ? takeOnSqlite(deps.db, account, via)
    : takeAndDelete(deps.db, { account }, via);
}

/** SQL of the account's cursor of `kind` (0 without a cursor row: nothing taken). */
const cursorOf = (account: unknown, kind: 'ec' | 'kyber') =>
  sql<number>`coalesce((SELECT c.${sql.ref(`${kind}_next`)} FROM prekey_cursors c
    WHERE c.account_id = ${account}), 0)`;

/**
 * Deletes the rows of keys already taken (below the account's cursor), at most `limit` per
 * statement with a turn of the event loop between statements, so that the serving thread
 * never stalls on it; returns how many it deleted. SQLite only has such rows.
 */
export async function sweepTakenPreKeys(db: Kysely<ProviderTables>, limit = 500): Promise<number> {
  let deleted = 0;
  for (const kind of ['ec', 'kyber'] as const) {
    for (;;) {
      const result = await sql`DELETE FROM one_time_prekeys WHERE id IN (
        SELECT k.id FROM prekey_cursors c JOIN one_time_prekeys k
          ON k.account_id = c.account_id AND k.kind = ${kind}
          AND k.key_id < c.${sql.ref(`${kind}_next`)} LIMIT ${limit})`.execute(db);
      const n = Number(result.numAffectedRows ?? 0);
      deleted += n;
      if (n < limit) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return deleted;
}

/**
 * Deletes the account's taken keys and its cursor (in an upload's transaction): afterwards every
 * key row of the account is one not taken, whatever ids the upload brings (lower ones too).
 */
async function dropTakenPreKeys(tx: Kysely<ProviderTables>, accountId: string): Promise<void> {
  for (const kind of ['ec', 'kyber'] as const) {
    await tx
      .deleteFrom('one_time_prekeys')
      .where('account_id', '=', accountId)
      .where('kind', '=', kind)
      .where('key_id', '<', cursorOf(accountId, kind))
      .execute();
  }
  await tx.deleteFrom('prekey_cursors').where('account_id', '=', accountId).execute();
}

/**
 * SQL of whether `account` (a parameter, or a column of the outer query) holds more than
 * `reserved` one-time prekeys of each kind not taken: its key at offset `reserved` from the
 * cursor of each kind, found in the index after reading at most `reserved + 1` entries (not a
 * count of all of them). Read with the target ({@link targetQuery}), or alone.
 */
function reserveCheck(db: Kysely<ProviderTables>, account: unknown, reserved: string) {
  const nth = (kind: 'ec' | 'kyber') =>
    db
      .selectFrom('one_time_prekeys')
      .select('key_id')
      .where('account_id', '=', account as string)
      .where('kind', '=', kind)
      .where('key_id', '>=', cursorOf(account, kind))
      .orderBy('key_id')
      .limit(1)
      .offset(reserved as unknown as number);
  return sql<boolean | number>`((${nth('ec')}) IS NOT NULL AND (${nth('kyber')}) IS NOT NULL)`;
}
const aboveReserve = precompiled(['account', 'reserved'], (db: Kysely<ProviderTables>, p) =>
  db.selectNoFrom(reserveCheck(db, p.account, p.reserved).as('above')),
);

/**
 * Who asks for a bundle: `id` is `<providerId>/<accountId>` (an account here, or one another
 * provider of the trust list certified), `localAccountId` its account when it is one here.
 */
export interface Asker {
  readonly id: string;
  readonly localAccountId?: string;
  /** Signed with its device key here (no sender certificate): keeps its registration lock alive. */
  readonly deviceSigned?: boolean;
}

const contactOf = precompiled(['target', 'asker'], (db: Kysely<ProviderTables>, p) =>
  db
    .selectFrom('prekey_contacts')
    .select('one_time_at')
    .where('target_id', '=', p.target)
    .where('asker', '=', p.asker),
);

/**
 * Whether `asker` may see `target`. A stranger is an asker that has not been in contact with a
 * non-discoverable target here: it never fetched the target's bundle, and the target (an
 * account here) never fetched the asker's. Discoverable targets are served to every asker.
 */
async function mayServe(
  deps: ProviderDeps,
  target: Target,
  asker: Asker,
  via: Kysely<ProviderTables>,
): Promise<boolean> {
  const known = target.first_at !== null;
  if (target.discoverable === 1 || known || asker.localAccountId === target.id) return true;
  if (asker.localAccountId === undefined) return false;
  const reverse = await contactOf(
    deps.db,
    { target: asker.localAccountId, asker: `${deps.config.providerId}/${target.id}` },
    via,
  );
  return reverse.length > 0;
}

// The writes of a fetch: a new pair's contact row (with one-time keys or without), or an old
// pair's `one_time_at` moved by compare-and-set from the value read. A row back: it was written.
const insertContact = precompiled(
  ['target', 'asker', 'now', 'oneTimeAt'],
  (db: Kysely<ProviderTables>, p) =>
    db
      .insertInto('prekey_contacts')
      .values({ target_id: p.target, asker: p.asker, first_at: p.now, one_time_at: p.oneTimeAt })
      .onConflict((oc) => oc.columns(['target_id', 'asker']).doNothing())
      .returning('target_id'),
);
const claimFirst = precompiled(['target', 'asker', 'now'], (db: Kysely<ProviderTables>, p) =>
  db
    .updateTable('prekey_contacts')
    .set({ one_time_at: p.now })
    .where('target_id', '=', p.target)
    .where('asker', '=', p.asker)
    .where('one_time_at', 'is', null)
    .returning('target_id'),
);
const claimAgain = precompiled(
  ['target', 'asker', 'now', 'last'],
  (db: Kysely<ProviderTables>, p) =>
    db
      .updateTable('prekey_contacts')
      .set({ one_time_at: p.now })
      .where('target_id', '=', p.target)
      .where('asker', '=', p.asker)
      .where('one_time_at', '=', p.last)
      .returning('target_id'),
);

/**
 * Whether this fetch may hand out one-time prekeys, before any write: an asker gets them at
 * most once per `oneTimeKeysPerPairSeconds`, and one that had some before gets none from a
 * target holding `reservedOneTimeKeys` or fewer of a kind.
 */
async function oneTimeKeysDue(
  deps: ProviderDeps,
  target: Target,
  via: Kysely<ProviderTables>,
): Promise<boolean> {
  if (target.first_at === null || target.one_time_at === null) return true;
  const { oneTimeKeysPerPairSeconds, reservedOneTimeKeys } = deps.config.prekeys;
  if (deps.now() - Number(target.one_time_at) < oneTimeKeysPerPairSeconds * 1000) return false;
  // Read with the target, unless the keys came due only after that read.
  const above =
    target.above_reserve ??
    (await aboveReserve(deps.db, { account: target.id, reserved: reservedOneTimeKeys }, via))[0]
      ?.above;
  return above === true || above === 1;
}

/** Whether `err` is the contact row's foreign key refusing it: the target account is gone. */
function targetGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/**
 * Records the contact and takes the one-time prekeys granted, on `via` (in the fetch's unit of
 * the group commit on SQLite: in order with the other fetches' writes, so the compare-and-set
 * and the take see the writes before them; straight on PostgreSQL, `SKIP LOCKED` takes). A new
 * pair's row is inserted, an old one's `one_time_at` moved by compare-and-set, so that
 * concurrent fetches of one pair get one-time keys at most once. Undefined: the target was
 * deleted meanwhile (caught here, as a result, so that it never fails the other units of a
 * batch: SQLite undoes only the refused statement).
 */
async function recordContact(
  deps: ProviderDeps,
  target: Target,
  asker: string,
  granted: boolean,
  via: Kysely<ProviderTables>,
): Promise<TakenPreKey[] | undefined> {
  const now = deps.now();
  const pair = { target: target.id, asker, now };
  if (target.first_at === null) {
    const values = { ...pair, oneTimeAt: granted ? now : null };
    let inserted: unknown[];
    try {
      inserted = await insertContact(deps.db, values, via);
    } catch (err) {
      if (targetGone(err)) return undefined;
      throw err;
    }
    return granted && inserted.length === 1 ? takeOneTimePreKeys(deps, target.id, via) : [];
  }
  if (!granted) return [];
  const claimed =
    target.one_time_at === null
      ? await claimFirst(deps.db, pair, via)
      : await claimAgain(deps.db, { ...pair, last: Number(target.one_time_at) }, via);
  return claimed.length === 1 ? takeOneTimePreKeys(deps, target.id, via) : [];
}

/**
 * Checks a fetch's credential with `nonce` as its replay cache and says who asks. `via`: the
 * fetch's unit of work, when the check runs in it ({@link BundleFetchOptions.checkInUnit}).
 */
export type Authenticate = (nonce: NotedNonce, via?: Kysely<ProviderTables>) => Promise<Asker>;

/** How {@link fetchBundle} checks the credential. */
export interface BundleFetchOptions {
  /**
   * Check it in the fetch's unit of work, before the nonce is recorded (on SQLite the signing
   * key is then read in the batch's transaction, not in one of its own): only for a check that
   * reads the database and nothing else (a device signature; a sender certificate may ask the
   * network, and is checked before the unit).
   */
  readonly checkInUnit?: boolean;
}

/**
 * Fetches a bundle for an asker whose credential `authenticate` checks (after the per-client
 * limit, so that floods cost no signature checks) with `nonce` as its replay cache: the nonce is
 * recorded in the fetch's one unit of work, before its reads and writes, and a replayed request
 * is refused there with nothing else done. A non-discoverable target is "not found" to
 * strangers; one-time prekeys go to each asker at most once per `oneTimeKeysPerPairSeconds`,
 * otherwise the bundle carries the Kyber last-resort prekey and no one-time EC prekey.
 */
export async function fetchBundle(
  deps: ProviderDeps,
  address: string,
  clientAddress: string,
  authenticate: Authenticate,
  options: BundleFetchOptions = {},
): Promise<Bundle> {
  const perAddress = deps.limits.bundlePerAddress.take(clientAddress);
  if (!perAddress.allowed) throw rateLimited(perAddress.retryAfterSeconds, 'prekey fetches');
  const nonce = new NotedNonce();
  const checked = options.checkInUnit ? undefined : await authenticate(nonce);
  const unit = await commitSoon(deps.db, (db) =>
    serveUnit(deps, db, nonce, address, checked ?? ((via) => authenticate(nonce, via))),
  );
  if ('failed' in unit) throw unit.failed;
  const { asker, served } = unit;
  const replayed = served instanceof ProviderApiError && served.code === 'auth.replayed';
  // A request not replayed, of an asker that signed with its device key here, keeps its
  // registration lock alive (refused by a limit or not: as any other signed request).
  if (!replayed && asker.deviceSigned && asker.localAccountId !== undefined) {
    const noting = noteActivity(deps, asker.localAccountId);
    if (noting) await noting;
  }
  if (served instanceof ProviderApiError) throw served;
  return served;
}

/** A fetch's unit's outcome: the asker and the bundle or problem, or its credential's failure. */
type UnitOutcome =
  | { readonly asker: Asker; readonly served: Bundle | ProviderApiError }
  | { readonly failed: unknown };

/**
 * A fetch's unit of work, on `via`, checking the credential first when `asker` is that check:
 * the problem it ends with is its result, not thrown, so that it never fails the other units of
 * its batch (whatever a credential's check throws is its result too: a malformed request must
 * not fail other fetches).
 */
async function serveUnit(
  deps: ProviderDeps,
  via: Kysely<ProviderTables>,
  nonce: NotedNonce,
  address: string,
  asker: Asker | ((via: Kysely<ProviderTables>) => Promise<Asker>),
): Promise<UnitOutcome> {
  let who: Asker;
  try {
    who = typeof asker === 'function' ? await asker(via) : asker;
  } catch (err) {
    return { failed: err };
  }
  try {
    if (!(await nonce.record(deps.db, deps.now(), via))) {
      return { asker: who, served: fail('auth.replayed', 'this signed request was already used') };
    }
    return { asker: who, served: await serve(deps, via, address, who) };
  } catch (err) {
    if (err instanceof ProviderApiError) return { asker: who, served: err };
    throw err;
  }
}

/** The checks and writes of a fetch whose nonce was recorded (limits, contact, take). */
async function serve(
  deps: ProviderDeps,
  via: Kysely<ProviderTables>,
  address: string,
  asker: Asker,
): Promise<Bundle> {
  const perAsker = deps.limits.bundlePerAsker.take(asker.id);
  if (!perAsker.allowed) throw rateLimited(perAsker.retryAfterSeconds, 'prekey fetches');
  const account = await findTarget(deps, address, asker.id, via);
  // Keyed by the account, not the text of the address, so that spelling one number in several
  // ways (or by id and by number) does not multiply the limit.
  const targetKey = account?.id ?? address;
  const perTarget = deps.limits.bundlePerTarget.take(targetKey);
  if (!perTarget.allowed) {
    throw rateLimited(perTarget.retryAfterSeconds, 'prekey fetches for this address');
  }
  const perPair = deps.limits.bundlePerAskerAndTarget.take(`${asker.id} ${targetKey}`);
  if (!perPair.allowed) {
    throw rateLimited(perPair.retryAfterSeconds, 'prekey fetches for this address');
  }
  if (!account || !(await mayServe(deps, account, asker, via))) {
    throw fail('account.not-found', 'no account with this address here');
  }
  // Accounts another provider certified share one budget of one-time keys per target: a
  // provider minting identities cannot empty a pool here one identity at a time.
  const issuer = asker.localAccountId === undefined ? asker.id.split('/')[0] : undefined;
  const granted =
    (await oneTimeKeysDue(deps, account, via)) &&
    (issuer === undefined ||
      deps.limits.oneTimeKeysPerIssuerAndTarget.take(`${issuer} ${account.id}`).allowed);
  const taken = await recordContact(deps, account, asker.id, granted, via);
  if (!taken) throw fail('account.not-found', 'no account with this address here');
  return bundleOf(account, taken);
}

function bundleOf(account: Target, taken: readonly TakenPreKey[]): Bundle {
  const ec = taken.find((k) => k.kind === 'ec');
  const kyber = taken.find((k) => k.kind === 'kyber');
  return {
    accountId: account.id,
    registrationId: account.registration_id,
    deviceId: DEVICE_ID,
    identityKey: toBase64(account.identity_key),
    signedPreKey: {
      keyId: account.signed_prekey_id,
      publicKey: toBase64(account.signed_prekey),
      signature: toBase64(account.signed_prekey_signature),
    },
    ...(ec ? { preKey: { keyId: ec.key_id, publicKey: toBase64(ec.public_key) } } : {}),
    kyberPreKey: kyber
      ? {
          keyId: kyber.key_id,
          publicKey: toBase64(kyber.public_key),
          signature: toBase64(kyber.signature ?? new Uint8Array()),
        }
      : {
          keyId: account.kyber_last_resort_id,
          publicKey: toBase64(account.kyber_last_resort),
          signature: toBase64(account.kyber_last_resort_signature),
        },
    kyberLastResort: !kyber,
  };
}
