import { createHash } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import { PublicKey } from '@signalapp/libsignal-client';
import type { ProviderDeps } from './deps.js';
import type { Kysely } from 'kysely';
import type { AccountsTable, OneTimePrekeysTable, ProviderTables } from './store/schema.js';
import { precompiled } from './store/precompiled.js';
import { fail, rateLimited } from './errors.js';
import { DEVICE_ID, insertOneTimePreKeys, loadAccount } from './accounts.js';
import {
  checkKyberPreKey,
  checkOneTimeKyberPreKeys,
  checkOneTimePreKeys,
  checkSignedPreKey,
} from './keys.js';
import { toArrayBuffer, toBase64 } from './encoding.js';
import { parseNumber } from './verification.js';
import { ProviderApiError } from '@switchboard/openapi';

type PrekeyCount = ProviderSchema<'PrekeyCount'>;
type Bundle = ProviderSchema<'PrekeyBundle'>;

/** How many one-time prekeys of each kind an account has left. */
export async function countPrekeys(deps: ProviderDeps, accountId: string): Promise<PrekeyCount> {
  const rows = await deps.db
    .selectFrom('one_time_prekeys')
    .select(['kind', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('account_id', '=', accountId)
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

/** The account columns a bundle is made of. */
const BUNDLE_COLUMNS = [
  'id',
  'registration_id',
  'identity_key',
  'signed_prekey_id',
  'signed_prekey',
  'signed_prekey_signature',
  'kyber_last_resort_id',
  'kyber_last_resort',
  'kyber_last_resort_signature',
  'discoverable',
] as const;

const targetById = precompiled(['id'], (db: Kysely<ProviderTables>, p) =>
  db.selectFrom('accounts').select(BUNDLE_COLUMNS).where('id', '=', p.id),
);
// By number only for accounts that chose to be discoverable: others are reachable by id alone.
const targetByNumber = precompiled(['number'], (db: Kysely<ProviderTables>, p) =>
  db
    .selectFrom('accounts')
    .select(BUNDLE_COLUMNS)
    .where('number', '=', p.number)
    .where('discoverable', '=', 1),
);

type Target = Pick<AccountsTable, (typeof BUNDLE_COLUMNS)[number]>;

async function findTarget(deps: ProviderDeps, address: string): Promise<Target | undefined> {
  if (UUID.test(address)) return (await targetById(deps.db, { id: address }))[0];
  let number: string;
  try {
    number = parseNumber(address);
  } catch (err) {
    if (err instanceof ProviderApiError) return undefined;
    throw err;
  }
  return (await targetByNumber(deps.db, { number }))[0];
}

/**
 * Takes the one-time prekey with the lowest key id of each kind off an account (as Signal's
 * server does; the unique index on account, kind and key id finds it without sorting) in one
 * statement, atomically.
 * PostgreSQL: each row is picked with `FOR UPDATE SKIP LOCKED`, so concurrent fetches never get
 * the same key and never wait on each other; SQLite: writers are serialised, so
 * `DELETE ... RETURNING` is atomic by itself.
 */
function takeOneTimePreKeysQuery(pg: boolean) {
  return precompiled(['account'], (db: Kysely<ProviderTables>, p) => {
    const oldest = (kind: 'ec' | 'kyber') =>
      db
        .selectFrom('one_time_prekeys')
        .select('id')
        .where('account_id', '=', p.account)
        .where('kind', '=', kind)
        .orderBy('key_id')
        .limit(1)
        .$if(pg, (qb) => qb.forUpdate().skipLocked());
    return db
      .deleteFrom('one_time_prekeys')
      .where((eb) => eb.or([eb('id', '=', oldest('ec')), eb('id', '=', oldest('kyber'))]))
      .returning(['kind', 'key_id', 'public_key', 'signature']);
  });
}
const takeOneTimePreKeys = {
  postgres: takeOneTimePreKeysQuery(true),
  sqlite: takeOneTimePreKeysQuery(false),
};

type TakenPreKey = Pick<OneTimePrekeysTable, 'kind' | 'key_id' | 'public_key' | 'signature'>;

interface PendingTake {
  readonly account: string;
  readonly resolve: (rows: TakenPreKey[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * SQLite group commit: the takes of fetches that arrive together (whose requests were read in
 * the same turn of the event loop) run one after the other in one transaction, so that one
 * commit serves them all instead of one each. Each is still the same `DELETE ... RETURNING` of
 * the lowest key of each kind, and SQLite runs them one at a time on the one connection, so each
 * fetch gets its own keys and no key goes out twice; every answer waits for the commit. A lone
 * take runs as before, without a transaction around it. If the transaction fails, every fetch of
 * the batch fails (and none of their keys is consumed).
 */
export class SqliteTakeBatcher {
  private pending: PendingTake[] = [];

  constructor(private readonly db: Kysely<ProviderTables>) {}

  /** Takes the lowest one-time prekey of each kind off `account`, in the next batch. */
  take(account: string): Promise<TakenPreKey[]> {
    return new Promise((resolve, reject) => {
      // The first of a batch schedules it: after the I/O callbacks of this turn of the loop.
      if (this.pending.push({ account, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const only = batch.length === 1 ? batch[0] : undefined;
    const run: Promise<TakenPreKey[][]> = only
      ? takeOneTimePreKeys.sqlite(this.db, { account: only.account }).then((rows) => [rows])
      : this.db.transaction().execute(async (tx) => {
          const out: TakenPreKey[][] = [];
          for (const p of batch) {
            out.push(await takeOneTimePreKeys.sqlite(this.db, { account: p.account }, tx));
          }
          return out;
        });
    run.then(
      (results) => batch.forEach((p, i) => p.resolve(results[i] ?? [])),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
  }
}

const batchers = new WeakMap<Kysely<ProviderTables>, SqliteTakeBatcher>();

/** The one-time prekeys a fetch consumes (one of each kind, when any remain). */
function takeFor(deps: ProviderDeps, account: string): Promise<TakenPreKey[]> {
  if (deps.dialect === 'postgres') return takeOneTimePreKeys.postgres(deps.db, { account });
  let batcher = batchers.get(deps.db);
  if (!batcher) {
    batcher = new SqliteTakeBatcher(deps.db);
    batchers.set(deps.db, batcher);
  }
  return batcher.take(account);
}

/**
 * Who asks for a bundle: `id` is `<providerId>/<accountId>` (an account here, or one another
 * provider of the trust list certified), `localAccountId` its account when it is one here.
 */
export interface Asker {
  readonly id: string;
  readonly localAccountId?: string;
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
  known: boolean,
): Promise<boolean> {
  if (target.discoverable === 1 || known || asker.localAccountId === target.id) return true;
  if (asker.localAccountId === undefined) return false;
  const reverse = await contactOf(deps.db, {
    target: asker.localAccountId,
    asker: `${deps.config.providerId}/${target.id}`,
  });
  return reverse.length > 0;
}

/**
 * Whether this fetch may hand out one-time prekeys, recorded atomically (a new pair is inserted,
 * an old one's `one_time_at` moved by compare-and-set), so that concurrent fetches of one pair
 * get them at most once per `oneTimeKeysPerPairSeconds`. An asker that had some before gets
 * none from a target holding `reservedOneTimeKeys` or fewer of a kind.
 */
async function grantOneTimeKeys(
  deps: ProviderDeps,
  target: string,
  asker: string,
  contact: { readonly one_time_at: number | string | null } | undefined,
  budget: () => boolean,
): Promise<boolean> {
  const now = deps.now();
  const { oneTimeKeysPerPairSeconds, reservedOneTimeKeys } = deps.config.prekeys;
  if (!contact) {
    const granted = budget();
    const inserted = await deps.db
      .insertInto('prekey_contacts')
      .values({ target_id: target, asker, first_at: now, one_time_at: granted ? now : null })
      .onConflict((oc) => oc.columns(['target_id', 'asker']).doNothing())
      .executeTakeFirst();
    return granted && Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  }
  const last = contact.one_time_at === null ? undefined : Number(contact.one_time_at);
  if (last !== undefined) {
    if (now - last < oneTimeKeysPerPairSeconds * 1000) return false;
    const left = await countPrekeys(deps, target);
    if (Math.min(left.oneTimePreKeys, left.oneTimeKyberPreKeys) <= reservedOneTimeKeys) {
      return false;
    }
  }
  if (!budget()) return false;
  const claimed = await deps.db
    .updateTable('prekey_contacts')
    .set({ one_time_at: now })
    .where('target_id', '=', target)
    .where('asker', '=', asker)
    .where((eb) =>
      last === undefined ? eb('one_time_at', 'is', null) : eb('one_time_at', '=', last),
    )
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

/**
 * Fetches a bundle for an asker whose credential `authenticate` checks (after the per-client
 * limit, so that floods cost no signature checks). A non-discoverable target is "not found" to
 * strangers; one-time prekeys go to each asker at most once per `oneTimeKeysPerPairSeconds`,
 * otherwise the bundle carries the Kyber last-resort prekey and no one-time EC prekey.
 */
export async function fetchBundle(
  deps: ProviderDeps,
  address: string,
  clientAddress: string,
  authenticate: () => Promise<Asker>,
): Promise<Bundle> {
  const perAddress = deps.limits.bundlePerAddress.take(clientAddress);
  if (!perAddress.allowed) throw rateLimited(perAddress.retryAfterSeconds, 'prekey fetches');
  const asker = await authenticate();
  const perAsker = deps.limits.bundlePerAsker.take(asker.id);
  if (!perAsker.allowed) throw rateLimited(perAsker.retryAfterSeconds, 'prekey fetches');
  const account = await findTarget(deps, address);
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
  const contact = account
    ? (await contactOf(deps.db, { target: account.id, asker: asker.id }))[0]
    : undefined;
  if (!account || !(await mayServe(deps, account, asker, contact !== undefined))) {
    throw fail('account.not-found', 'no account with this address here');
  }
  // Accounts another provider certified share one budget of one-time keys per target: a
  // provider minting identities cannot empty a pool here one identity at a time.
  const issuer = asker.localAccountId === undefined ? asker.id.split('/')[0] : undefined;
  const budget = (): boolean =>
    issuer === undefined ||
    deps.limits.oneTimeKeysPerIssuerAndTarget.take(`${issuer} ${account.id}`).allowed;
  const oneTime = await grantOneTimeKeys(deps, account.id, asker.id, contact, budget);
  const taken = oneTime ? await takeFor(deps, account.id) : [];
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
