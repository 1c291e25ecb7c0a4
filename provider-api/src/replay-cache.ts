import type { Kysely } from 'kysely';
import type { ReplayCache } from '@switchboard/http-signature';
import type { ProviderTables } from './store/schema.js';
import { sha256Hex } from './encoding.js';

/**
 * A {@link ReplayCache} in the database, so replicas behind a load balancer refuse a request
 * replayed to another replica. Rows are keyed by a hash of key id and nonce.
 */
export class DatabaseReplayCache implements ReplayCache {
  readonly #db: Kysely<ProviderTables>;
  readonly #now: () => number;

  constructor(db: Kysely<ProviderTables>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async remember(keyId: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    const key = sha256Hex(`${keyId}\n${nonce}`);
    await this.#db
      .deleteFrom('replay_nonces')
      .where('key', '=', key)
      .where('expires_at', '<=', this.#now())
      .execute();
    const result = await this.#db
      .insertInto('replay_nonces')
      .values({ key, expires_at: expiresAtMs })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Deletes expired nonces (called periodically). */
  async sweep(): Promise<void> {
    await this.#db.deleteFrom('replay_nonces').where('expires_at', '<=', this.#now()).execute();
  }
}
