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
    const values = { key: sha256Hex(`${keyId}\n${nonce}`), expires: expiresAtMs, now: this.#now() };
    const rows = await commitSoon(this.#db, (db) => rememberNonce(this.#db, values, db));
    return rows.length === 1;
  }

  /** Deletes expired nonces (called periodically). */
  async sweep(): Promise<void> {
    await this.#db.deleteFrom('replay_nonces').where('expires_at', '<=', this.#now()).execute();
  }
}
