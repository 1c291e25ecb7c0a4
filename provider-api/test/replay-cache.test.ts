import type { Kysely } from 'kysely';
import { migrateToLatest } from '@switchboard/db';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import { DatabaseReplayCache } from '../src/core/replay-cache.js';
import { PROVIDER_MIGRATIONS } from '../src/store/migrations.js';
import type { ProviderTables } from '../src/store/schema.js';

describe.each(ALL_DIALECTS)('database replay cache (%s)', (dialect) => {
  it('refuses a nonce while its record lives, and takes over an expired record', async () => {
    const database = await openTestDatabase<ProviderTables>(dialect);
    try {
      await migrateToLatest(
        database.db as Kysely<unknown>,
        dialect,
        'provider_api',
        PROVIDER_MIGRATIONS,
      );
      const clock = { now: 1_000_000 };
      const cache = new DatabaseReplayCache(database.db, () => clock.now);
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(true);
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(false);
      // Requests that arrive together: each nonce once, whatever the batch.
      const together = await Promise.all(
        ['n2', 'n2', 'n3', 'n1'].map((n) => cache.remember('k', n, clock.now + 300_000)),
      );
      expect(together).toEqual([true, false, true, false]);
      expect(await cache.remember('other-key', 'n1', clock.now + 300_000)).toBe(true);
      clock.now += 300_000;
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(true);
      expect(await cache.remember('k', 'n1', clock.now + 300_000)).toBe(false);
      const rows = await database.db.selectFrom('replay_nonces').select('key').execute();
      expect(rows).toHaveLength(4);
    } finally {
      await database.dispose();
    }
  });

  it('sweeps expired nonces from every slice of the key space and keeps live ones', async () => {
    const database = await openTestDatabase<ProviderTables>(dialect);
    try {
      await migrateToLatest(
        database.db as Kysely<unknown>,
        dialect,
        'provider_api',
        PROVIDER_MIGRATIONS,
      );
      const clock = { now: 1_000_000 };
      const cache = new DatabaseReplayCache(database.db, () => clock.now);
      // Hashed keys land in every slice; the edges and keys that are not hex are swept too.
      for (let i = 0; i < 600; i++) {
        expect(await cache.remember('k', `old-${i}`, clock.now + 1_000)).toBe(true);
        expect(await cache.remember('k', `new-${i}`, clock.now + 600_000)).toBe(true);
      }
      const edges = ['', '0', '00', '0f', 'f', 'ff', 'fff', 'g', 'zz', '~'];
      await database.db
        .insertInto('replay_nonces')
        .values(edges.map((key) => ({ key, expires_at: clock.now })))
        .execute();
      clock.now += 300_000;
      await cache.sweep();
      const left = await database.db.selectFrom('replay_nonces').select('key').execute();
      expect(left).toHaveLength(600);
      // What was swept may be used again; what is live still may not.
      expect(await cache.remember('k', 'old-7', clock.now + 300_000)).toBe(true);
      expect(await cache.remember('k', 'new-7', clock.now + 300_000)).toBe(false);
    } finally {
      await database.dispose();
    }
  });
});
