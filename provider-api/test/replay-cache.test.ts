import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DialectName } from '@switchboard/db';
import { migrateToLatest } from '@switchboard/db';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import { DatabaseReplayCache, SWEEP_CHUNK } from '../src/core/replay-cache.js';
import { sha256Hex } from '../src/core/encoding.js';
import { PROVIDER_MIGRATIONS } from '../src/store/migrations.js';
import type { ProviderTables } from '../src/store/schema.js';

/** A migrated database of `dialect` with a replay cache on a clock the test moves. */
async function migrated(dialect: DialectName) {
  const database = await openTestDatabase<ProviderTables>(dialect);
  await migrateToLatest(
    database.db as Kysely<unknown>,
    dialect,
    'provider_api',
    PROVIDER_MIGRATIONS,
  );
  const clock = { now: 1_000_000 };
  return { database, clock, cache: new DatabaseReplayCache(database.db, () => clock.now) };
}

describe.each(ALL_DIALECTS)('database replay cache (%s)', (dialect) => {
  it('refuses a nonce while its record lives, and takes over an expired record', async () => {
    const { database, clock, cache } = await migrated(dialect);
    try {
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(true);
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(false);
      // Requests that arrive together: each nonce once, whatever the batch.
      const together = await Promise.all(
        ['n2', 'n2', 'n3', 'n1'].map((n) => cache.remember('k', n, clock.now + 300_000)),
      );
      expect(together).toEqual([true, false, true, false]);
      expect(await cache.remember('other-key', 'n1', clock.now + 300_000)).toBe(true);
      // Expired, its record is taken over by the same key (a request signature checks refuse
      // as stale anyway).
      clock.now += 300_000;
      expect(await cache.remember('k', 'n1', clock.now)).toBe(true);
      // Another expiry (another signed `created`) is another signed request.
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(true);
      const rows = await database.db.selectFrom('replay_nonces').select('key').execute();
      expect(rows).toHaveLength(5);
    } finally {
      await database.dispose();
    }
  });

  it('sweeps expired nonces, in several statements, and keeps live ones', async () => {
    const { database, clock, cache } = await migrated(dialect);
    try {
      // More than one statement's worth (SWEEP_CHUNK), interleaved in time with live ones.
      const n = SWEEP_CHUNK * 2 + 7;
      for (let i = 0; i < n; i++) {
        expect(await cache.remember('k', `old-${i}`, clock.now + 1_000 + i)).toBe(true);
        expect(await cache.remember('k', `new-${i}`, clock.now + 600_000 - i)).toBe(true);
      }
      // Expiring exactly at the sweep's time: expired.
      expect(await cache.remember('k', 'edge', clock.now + 300_000)).toBe(true);
      expect(await cache.remember('k', 'after', clock.now + 300_001)).toBe(true);
      clock.now += 300_000;
      await cache.sweep();
      const left = await database.db.selectFrom('replay_nonces').select('key').execute();
      expect(left).toHaveLength(n + 1);
      // What was swept may be used again; what is live still may not.
      expect(await cache.remember('k', 'old-7', clock.now + 1_007)).toBe(true);
      expect(await cache.remember('k', 'new-7', clock.now + 300_000 - 7)).toBe(false);
      expect(await cache.remember('k', 'after', clock.now + 1)).toBe(false);
    } finally {
      await database.dispose();
    }
  });

  it('keeps refusing the nonces recorded before migration 0011', async () => {
    const database = await openTestDatabase<ProviderTables>(dialect);
    try {
      const db = database.db as Kysely<unknown>;
      const upTo = Object.fromEntries(
        Object.entries(PROVIDER_MIGRATIONS).filter(([name]) => name < '0011'),
      );
      await migrateToLatest(db, dialect, 'provider_api', upTo);
      const hashed = sha256Hex('k\nn1');
      await sql`INSERT INTO replay_nonces (key, expires_at) VALUES (${hashed}, ${2_000_000})`.execute(
        db,
      );
      await migrateToLatest(db, dialect, 'provider_api', PROVIDER_MIGRATIONS);
      const cache = new DatabaseReplayCache(database.db, () => 1_500_000);
      expect(await cache.remember('k', 'n1', 2_000_000)).toBe(false);
      expect(await cache.remember('k', 'n2', 2_000_000)).toBe(true);
    } finally {
      await database.dispose();
    }
  });
});

describe('SQLite: the tables every bundle fetch writes', () => {
  it('are WITHOUT ROWID tables after migration 0009, with their rows, keys and cascade kept', async () => {
    const database = await openTestDatabase<ProviderTables>('sqlite');
    const db = database.db as Kysely<unknown>;
    const upTo = (last: string) =>
      Object.fromEntries(Object.entries(PROVIDER_MIGRATIONS).filter(([name]) => name <= last));
    const withoutRowid = async (table: string): Promise<boolean> => {
      const rows = await sql<{ sql: string }>`
        SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ${table}`.execute(db);
      return /WITHOUT ROWID/i.test(rows.rows[0]?.sql ?? '');
    };
    try {
      await migrateToLatest(db, 'sqlite', 'provider_api', upTo('0008'));
      expect(await withoutRowid('replay_nonces')).toBe(false);
      await sql`INSERT INTO accounts (id, number, registration_id, identity_key, device_key,
        signed_prekey_id, signed_prekey, signed_prekey_signature, kyber_last_resort_id,
        kyber_last_resort, kyber_last_resort_signature, verified_at, created_at)
        VALUES ('a1', '+15550100', 1, x'01', x'02', 1, x'03', x'04', 1, x'05', x'06', 0, 0)`.execute(
        db,
      );
      await sql`INSERT INTO replay_nonces (key, expires_at) VALUES ('n1', 5)`.execute(db);
      await sql`INSERT INTO prekey_contacts (target_id, asker, first_at, one_time_at)
        VALUES ('a1', 'p/b', 1, NULL)`.execute(db);

      await migrateToLatest(db, 'sqlite', 'provider_api', PROVIDER_MIGRATIONS);
      expect(await withoutRowid('replay_nonces')).toBe(true);
      expect(await withoutRowid('prekey_contacts')).toBe(true);
      const cache = new DatabaseReplayCache(database.db, () => 0);
      expect(await cache.remember('k', 'n2', 10)).toBe(true);
      expect(await cache.remember('k', 'n2', 10)).toBe(false);
      const nonces =
        await sql`SELECT key, expires_at FROM replay_nonces WHERE expires_at = 5`.execute(db);
      // Migration 0011 put the expiry in front of the key.
      expect(nonces.rows).toEqual([{ key: '0000000000005n1', expires_at: 5 }]);
      // By the error's code: in a jest process where another test file loaded better-sqlite3
      // first, its errors are not instances of this file's Error (toThrow sees no error).
      const refusal = (target: string): Promise<unknown> =>
        sql`INSERT INTO prekey_contacts (target_id, asker, first_at) VALUES (${target}, 'p/b', 2)`
          .execute(db)
          .then(
            () => 'accepted',
            (err: unknown) => (err as { code?: unknown }).code,
          );
      expect(await refusal('a1')).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
      expect(await refusal('gone')).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
      await sql`DELETE FROM accounts WHERE id = 'a1'`.execute(db);
      const left = await sql`SELECT count(*) AS n FROM prekey_contacts`.execute(db);
      expect(left.rows).toEqual([{ n: 0 }]);
    } finally {
      await database.dispose();
    }
  });
});
