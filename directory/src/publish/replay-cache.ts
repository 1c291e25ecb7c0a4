import type { Kysely } from 'kysely';
import type { ReplayCache } from '@switchboard/http-signature';
import type { DirectoryTables } from '../state/store.js';

/** Options for {@link DatabaseReplayCache}. */
export interface DatabaseReplayCacheOptions {
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** At most this often (ms), one call also deletes every expired row. Default 60 000. */
  readonly sweepEveryMs?: number;
}

/**
 * A {@link ReplayCache} in the directory's database (`directory_replay_nonces`, primary key
 * key id + nonce), so a signed publish request is accepted once by all replicas sharing the
 * database, and still refused after a restart. Needs the directory migrations
 * (`DirectoryStore.open`) applied.
 *
 * @example
 * const cache = new DatabaseReplayCache(db, { now: Date.now });
 * await cache.remember('acme-telecom', nonce, expiresAtMs); // true once, then false
 */
export class DatabaseReplayCache implements ReplayCache {
  readonly #db: Kysely<DirectoryTables>;
  readonly #now: () => number;
  readonly #sweepEveryMs: number;
  #nextSweep = 0;

  constructor(db: Kysely<DirectoryTables>, options: DatabaseReplayCacheOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#sweepEveryMs = options.sweepEveryMs ?? 60_000;
  }

  async remember(keyId: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    const now = this.#now();
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + this.#sweepEveryMs;
      await this.sweep();
    } else {
      // An expired row protects nothing (its signature is stale by now); let the insert decide.
      await this.#db
        .deleteFrom('directory_replay_nonces')
        .where('key_id', '=', keyId)
        .where('nonce', '=', nonce)
        .where('expires_at', '<=', now)
        .execute();
    }
    // The primary key decides between concurrent requests on any replica: a conflict is a replay.
    const result = await this.#db
      .insertInto('directory_replay_nonces')
      .values({ key_id: keyId, nonce, expires_at: Math.ceil(expiresAtMs) })
      .onConflict((oc) => oc.columns(['key_id', 'nonce']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Deletes every expired nonce. */
  async sweep(): Promise<void> {
    await this.#db
      .deleteFrom('directory_replay_nonces')
      .where('expires_at', '<=', this.#now())
      .execute();
  }
}
