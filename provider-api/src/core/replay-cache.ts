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
 * replayed to another replica. Rows are keyed by a hash of key id and nonce. On SQLite the
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
    const values = { key: nonceKey(keyId, nonce), expires: expiresAtMs, now: this.#now() };
    const rows = await commitSoon(this.#db, (db) => rememberNonce(this.#db, values, db));
    return rows.length === 1;
  }

  /**
   * Deletes expired nonces (called periodically), in {@link SWEEP_SLICES} slices of the key
   * space with a turn of the event loop between them. One statement over the whole table scans
   * every live nonce (at 1,000 signed requests/s, 300,000 rows for a 300-s window) and, on
   * SQLite, runs on the serving thread: a stall of every request for as long. A slice scans
   * 1/256 of the keys by the primary key's index.
   */
  async sweep(): Promise<void> {
    const now = this.#now();
    for (let i = 0; i < SWEEP_SLICES; i++) {
      const [from, to] = [sliceStart(i), sliceStart(i + 1)];
      await this.#db
        .deleteFrom('replay_nonces')
        .$if(from !== undefined, (qb) => qb.where('key', '>=', from as string))
        .$if(to !== undefined, (qb) => qb.where('key', '<', to as string))
        .where('expires_at', '<=', now)
        .execute();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** The row key of a nonce: a hash of the key id and the nonce. */
function nonceKey(keyId: string, nonce: string): string {
  return sha256Hex(`${keyId}\n${nonce}`);
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
    this.#key = nonceKey(keyId, nonce);
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

/** Slices of the key space a sweep deletes one at a time (keys are SHA-256 hex). */
export const SWEEP_SLICES = 256;

/** Where slice `i` starts (two hex digits); the first and the past-the-end have no bound. */
function sliceStart(i: number): string | undefined {
  return i <= 0 || i >= SWEEP_SLICES ? undefined : i.toString(16).padStart(2, '0');
}
