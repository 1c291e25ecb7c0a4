import { sql } from 'kysely';
import type { DialectName, PortableMigration } from '../src/index.js';
import {
  DatabaseUrlError,
  MigrationError,
  columnTypes,
  migrateToLatest,
  parseDatabaseUrl,
} from '../src/index.js';
import { ALL_DIALECTS, openTestDatabase } from '../src/testing.js';

interface Tables {
  note: { id: number; title: string; body: Uint8Array; created_at: number };
}

const migrations: Record<string, PortableMigration> = {
  '0001_note': {
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable('note')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull().unique())
        .addColumn('body', t.bytes, (c) => c.notNull())
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .execute();
    },
  },
};

describe.each(ALL_DIALECTS)('migrations on %s', (dialect: DialectName) => {
  it('applies once, then round-trips text, bytes and 64-bit timestamps', async () => {
    const database = await openTestDatabase<Tables>(dialect);
    try {
      const { db } = database;
      expect(await migrateToLatest(db as never, dialect, 'demo', migrations)).toEqual([
        '0001_note',
      ]);
      expect(await migrateToLatest(db as never, dialect, 'demo', migrations)).toEqual([]);

      const when = 1_790_000_000_123;
      const body = Uint8Array.from([0, 1, 2, 254, 255]);
      await db
        .insertInto('note')
        .values({ id: 1, title: 'héllo', body, created_at: when })
        .execute();
      const row = await db
        .selectFrom('note')
        .selectAll()
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      expect(row.title).toBe('héllo');
      expect(Buffer.from(row.body)).toEqual(Buffer.from(body));
      expect(Number(row.created_at)).toBe(when);

      // A unique violation is an error, and the failed statement leaves the table unchanged.
      // (Matched by message, not `toThrow`: better-sqlite3's native addon keeps the error class
      // of the first copy loaded in a process, which is another realm when jest reuses a worker.)
      await expect(
        db.insertInto('note').values({ id: 2, title: 'héllo', body, created_at: when }).execute(),
      ).rejects.toHaveProperty('message', expect.stringMatching(/unique/i));
      const count = await db
        .selectFrom('note')
        .select(sql<number>`count(*)`.as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(1);
    } finally {
      await database.dispose();
    }
  });

  it('stops at a failing migration and reports which one', async () => {
    const database = await openTestDatabase<Tables>(dialect);
    try {
      const broken: Record<string, PortableMigration> = {
        ...migrations,
        '0002_broken': {
          async up(db) {
            await sql`CREATE TABLE note (id integer)`.execute(db);
          },
        },
      };
      await expect(migrateToLatest(database.db as never, dialect, 'demo', broken)).rejects.toThrow(
        MigrationError,
      );
      await expect(migrateToLatest(database.db as never, dialect, 'demo', broken)).rejects.toThrow(
        /demo\/0002_broken/,
      );
      // All or nothing: the good migration of the failed run was not applied either.
      expect(await migrateToLatest(database.db as never, dialect, 'demo', migrations)).toEqual([
        '0001_note',
      ]);
    } finally {
      await database.dispose();
    }
  });
});

describe('parseDatabaseUrl', () => {
  it.each([
    ['sqlite:./data/x.db', 'sqlite', './data/x.db'],
    ['sqlite::memory:', 'sqlite', ':memory:'],
    ['file:/tmp/a.db', 'sqlite', '/tmp/a.db'],
    ['postgres://u@127.0.0.1:5432/test', 'postgres', 'postgres://u@127.0.0.1:5432/test'],
    ['postgresql://h/db', 'postgres', 'postgresql://h/db'],
  ])('%s', (url, dialect, target) => {
    expect(parseDatabaseUrl(url)).toEqual({ dialect, target });
  });

  it('rejects anything else with a message naming the accepted forms', () => {
    expect(() => parseDatabaseUrl('mysql://x')).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl('mysql://x')).toThrow(/sqlite:.*postgres:\/\//);
  });
});

describe('migrations on postgres with several schemas alive', () => {
  it('keeps each schema its own history, even when another schema already has one', async () => {
    const first = await openTestDatabase<Tables>('postgres');
    const second = await openTestDatabase<Tables>('postgres');
    try {
      expect(await migrateToLatest(first.db as never, 'postgres', 'demo', migrations)).toEqual([
        '0001_note',
      ]);
      expect(await migrateToLatest(second.db as never, 'postgres', 'demo', migrations)).toEqual([
        '0001_note',
      ]);
      await second.db
        .insertInto('note')
        .values({ id: 1, title: 'x', body: new Uint8Array(1), created_at: 1 })
        .execute();
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });
});
