import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { SQLITE_STATEMENT_CACHE_SIZE, cachingStatements } from '../src/index.js';

interface Tables {
  item: { id: number; name: string };
}

/** A SQLite database whose prepare() calls are counted. */
function counted(): { db: Kysely<Tables>; prepares: () => number } {
  const sqlite = new SQLite(':memory:');
  let n = 0;
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((text: string) => {
    n++;
    return prepare(text);
  }) as typeof sqlite.prepare;
  const db = new Kysely<Tables>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite) }),
  });
  return { db, prepares: () => n };
}

describe('SQLite statement cache', () => {
  it('prepares a query text once and reuses it with new parameters', async () => {
    const { db, prepares } = counted();
    try {
      await sql`CREATE TABLE item (id integer primary key, name text not null)`.execute(db);
      for (let i = 1; i <= 5; i++)
        await db
          .insertInto('item')
          .values({ id: i, name: `n${i}` })
          .execute();
      const before = prepares();
      const names: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const row = await db
          .selectFrom('item')
          .select('name')
          .where('id', '=', i)
          .executeTakeFirst();
        names.push(row?.name ?? '');
      }
      expect(names).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
      expect(prepares() - before).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('sees schema changes made after a statement was cached', async () => {
    const { db } = counted();
    try {
      await sql`CREATE TABLE item (id integer primary key, name text not null)`.execute(db);
      await db.insertInto('item').values({ id: 1, name: 'a' }).execute();
      const all = (): Promise<unknown[]> => db.selectFrom('item').selectAll().execute();
      expect(await all()).toEqual([{ id: 1, name: 'a' }]);
      await sql`ALTER TABLE item ADD COLUMN extra text`.execute(db);
      expect(await all()).toEqual([{ id: 1, name: 'a', extra: null }]);
    } finally {
      await db.destroy();
    }
  });

  it('never hands out a statement that is still being iterated', () => {
    const sqlite = new SQLite(':memory:');
    const cache = cachingStatements(sqlite);
    try {
      sqlite.exec('CREATE TABLE t (x integer); INSERT INTO t VALUES (1), (2)');
      const first = cache.prepare('SELECT x FROM t');
      const iterator = first.iterate([]);
      iterator.next();
      const second = cache.prepare('SELECT x FROM t');
      expect(second).not.toBe(first);
      expect(second.all([])).toEqual([{ x: 1 }, { x: 2 }]);
      iterator.return?.();
      expect(cache.prepare('SELECT x FROM t')).toBe(first);
    } finally {
      cache.close();
    }
  });

  it('keeps at most SQLITE_STATEMENT_CACHE_SIZE statements, dropping the least recently used', () => {
    const sqlite = new SQLite(':memory:');
    const cache = cachingStatements(sqlite);
    try {
      const first = cache.prepare('SELECT 0');
      const third = cache.prepare('SELECT 2');
      for (let i = 1; i < SQLITE_STATEMENT_CACHE_SIZE; i++) cache.prepare(`SELECT ${i}`);
      expect(cache.prepare('SELECT 0')).toBe(first); // now the most recently used
      const second = cache.prepare('SELECT 1');
      cache.prepare(`SELECT ${SQLITE_STATEMENT_CACHE_SIZE}`); // evicts SELECT 2
      expect(cache.prepare('SELECT 0')).toBe(first);
      expect(cache.prepare('SELECT 1')).toBe(second);
      expect(cache.prepare('SELECT 2')).not.toBe(third);
    } finally {
      cache.close();
    }
  });
});
