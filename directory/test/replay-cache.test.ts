import type { Kysely } from 'kysely';
import type { DialectName } from '@switchboard/db';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import type { TestDatabase } from '@switchboard/db/testing';
import { DatabaseReplayCache } from '../src/publish/replay-cache.js';
import type { DirectoryTables } from '../src/state/store.js';
import { DirectoryStore } from '../src/state/store.js';

describe.each(ALL_DIALECTS)('DatabaseReplayCache on %s', (dialect: DialectName) => {
  let database: TestDatabase<unknown>;
  let now = 1_795_000_000_000;
  const clock = (): number => now;

  beforeAll(async () => {
    database = await openTestDatabase(dialect);
    await DirectoryStore.open(database);
  });
  afterAll(async () => {
    await database.dispose();
  });

  it('accepts a nonce once per key, across cache instances sharing the database', async () => {
    const first = new DatabaseReplayCache(database.db as Kysely<DirectoryTables>, { now: clock });
    const second = new DatabaseReplayCache(database.db as Kysely<DirectoryTables>, { now: clock });
    expect(await first.remember('acme', 'nonce-0001', now + 60_000)).toBe(true);
    expect(await first.remember('acme', 'nonce-0001', now + 60_000)).toBe(false);
    expect(await second.remember('acme', 'nonce-0001', now + 60_000)).toBe(false);
    // The same nonce under another key is another request.
    expect(await second.remember('other', 'nonce-0001', now + 60_000)).toBe(true);
    // Concurrent attempts: exactly one wins.
    const racing = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? first : second).remember('acme', 'nonce-race', now + 60_000),
      ),
    );
    expect(racing.filter((r) => r)).toHaveLength(1);
  });

  it('forgets nonces once they expire and deletes expired rows', async () => {
    const cache = new DatabaseReplayCache(database.db as Kysely<DirectoryTables>, {
      now: clock,
      sweepEveryMs: 1_000,
    });
    expect(await cache.remember('acme', 'nonce-expiring', now + 5_000)).toBe(true);
    now += 5_000;
    // Expired: the signature it protected is stale anyway, so the row no longer blocks.
    expect(await cache.remember('acme', 'nonce-expiring', now + 5_000)).toBe(true);
    expect(await cache.remember('acme', 'nonce-expiring', now + 5_000)).toBe(false);
    now += 3_600_000;
    expect(await cache.remember('acme', 'nonce-late', now + 5_000)).toBe(true);
    const db = database.db as Kysely<DirectoryTables>;
    const rows = await db.selectFrom('directory_replay_nonces').select('nonce').execute();
    expect(rows.map((r) => r.nonce)).toEqual(['nonce-late']);
  });
});
