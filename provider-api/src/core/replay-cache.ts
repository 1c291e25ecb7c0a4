import type { Kysely } from 'kysely';
import type { ReplayCache } from '@switchboard/http-signature';
import type { ProviderTables } from '../store/schema.js';
import { sha256Hex } from './encoding.js';
import { precompiled } from '../store/precompiled.js';
import { commitSoon } from '../store/group-commit.js';

/**
 * Records a nonce unless a live record of it exists: a new key is inserted, an expired one's
 * row taken over; a row comes back only then. One statement, so it is atomic on both dialects.
 */
const rememberNonce = precompiled(['key', 'expires', 'now'], (db: Kysely<ProviderTables>, p) =>
  db
    .insertInto('replay_nonces')
    .values({ key: p.key, expires_at: p.expires })
    .onConflict((oc) =>
      oc
        .column('key')
        .doUpdateSet({ expires_at: (eb) => eb.ref('excluded.expires_at') })
        .where('replay_nonces.expires_at', '<=', p.now),
    )
    .returning('key'),
);

/**
 * A {@link ReplayCache} in the database, so replicas behind a load balancer refuse a request
 * replayed to another replica. Rows are keyed by expiry and a hash of key id and nonce
 * ({@link nonceKey}). On SQLite the
 * writes of requests that arrive together share one commit (`store/group-commit.ts`).
 */
export class DatabaseReplayCache implements ReplayCache {
  readonly #db: Kysely<ProviderTables>;
  readonly #now: () => number;

  constructor(db: Kysely<ProviderTables>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async remember(keyId: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    const values = {
      key: nonceKey(keyId, nonce, expiresAtMs),
      expires: expiresAtMs,
      now: this.#now(),
    };
    const rows = await commitSoon(this.#db, (db) => rememberNonce(this.#db, values, db));
    return rows.length === 1;
  }

  /**
   * Deletes expired nonces (called periodically), {@link SWEEP_CHUNK} at a time with a turn of
   * the event loop between statements, so the serving thread never stalls on it (at 1,000
   * signed requests/s, 300,000 live rows for a 300-s window). Keys start with their expiry, so
   * the expired ones are the lowest keys: each statement reads only rows it deletes.
   */
  async sweep(): Promise<void> {
    const now = this.#now();
    const bound = expiryPrefix(now + 1);
    for (;;) {
      const result = await this.#db
        .deleteFrom('replay_nonces')
        .where('key', 'in', (qb) =>
          qb
            .selectFrom('replay_nonces')
            .select('key')
            .where('key', '<', bound)
            .orderBy('key')
            .limit(SWEEP_CHUNK),
        )
        .where('expires_at', '<=', now)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) < SWEEP_CHUNK) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** Most expired nonces one statement of a sweep deletes. */
export const SWEEP_CHUNK = 500;

/** A key's first 13 characters: its expiry (ms), zero-padded, so keys sort by expiry. */
function expiryPrefix(expiresAtMs: number): string {
  return String(Math.max(0, Math.floor(expiresAtMs))).padStart(13, '0');
}

/**
 * The row key of a nonce: its expiry, then a hash of the key id and the nonce. The expiry comes
 * from the signed `created`, so a replay of a signed request has the same key. Keys in order of
 * expiry are inserted at the end of the table's B-tree: the nonces of one commit share its last
 * page (one WAL frame), where hashed keys alone each wrote a page of their own anywhere in it.
 */
function nonceKey(keyId: string, nonce: string, expiresAtMs: number): string {
  return expiryPrefix(expiresAtMs) + sha256Hex(`${keyId}\n${nonce}`);
}

/**
 * A {@link ReplayCache} for one request that only notes its nonce: the caller records it with
 * {@link NotedNonce.record} in its own unit of work (one unit, one commit, for the replay check
 * and the request's writes), before any of them, and refuses the request when it was used.
 */
export class NotedNonce implements ReplayCache {
  #key = '';
  #expires = 0;

  remember(keyId: string, nonce: string, expiresAtMs: number): boolean {
    this.#key = nonceKey(keyId, nonce, expiresAtMs);
    this.#expires = expiresAtMs;
    return true;
  }

  /**
   * Records the nonce noted, on `via` (`db` or a transaction opened on it); false: a live
   * record of it exists (a replay). Throws when no nonce was noted.
   */
  async record(
    db: Kysely<ProviderTables>,
    now: number,
    via: Kysely<ProviderTables> = db,
  ): Promise<boolean> {
    if (this.#key === '') throw new Error('no signed request nonce was noted');
    const rows = await rememberNonce(db, { key: this.#key, expires: this.#expires, now }, via);
    return rows.length === 1;
  }
}
