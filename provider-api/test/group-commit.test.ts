import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import type { TestDatabase } from '@switchboard/db/testing';
import { SqliteGroupCommit, commitSoon, groupCommitOf } from '../src/store/group-commit.js';

interface Tables {
  item: { id: number; n: number };
}

const ids = async (db: Kysely<Tables>): Promise<number[]> =>
  (await db.selectFrom('item').select('id').orderBy('id').execute()).map((r) => r.id);

describe('SQLite group commit', () => {
  let database: TestDatabase<Tables>;
  let db: Kysely<Tables>;
  let begins: number;
  beforeEach(async () => {
    database = await openTestDatabase<Tables>('sqlite');
    db = database.db;
    await sql`CREATE TABLE item (id integer primary key, n integer not null)`.execute(db);
    begins = 0;
    const original = db.transaction.bind(db);
    db.transaction = () => {
      begins++;
      return original();
    };
  });
  afterEach(async () => {
    await database.dispose();
  });

  it('runs the units that arrive together in order, in one transaction', async () => {
    const commit = new SqliteGroupCommit(db);
    // Each unit reads what the ones before it wrote.
    const add = (id: number) =>
      commit.run(async (tx) => {
        const before = await tx.selectFrom('item').select('id').execute();
        await tx.insertInto('item').values({ id, n: before.length }).execute();
        return before.length;
      });
    expect(await Promise.all([add(1), add(2), add(3)])).toEqual([0, 1, 2]);
    expect(begins).toBe(1);
    // A lone unit runs in a transaction of its own.
    expect(await add(4)).toBe(3);
    expect(begins).toBe(2);
    expect(await ids(db)).toEqual([1, 2, 3, 4]);
  });

  it('keeps none of the writes of a lone unit that throws', async () => {
    const commit = new SqliteGroupCommit(db);
    const failing = commit.run(async (tx) => {
      await tx.insertInto('item').values({ id: 1, n: 0 }).execute();
      await tx.insertInto('item').values({ id: 2, n: 0 }).execute();
      throw new Error('unit failed');
    });
    await expect(failing).rejects.toThrow('unit failed');
    expect(await ids(db)).toEqual([]);
  });

  it('fails every unit of a batch, and keeps none of its writes, when one throws', async () => {
    const commit = new SqliteGroupCommit(db);
    const add = (id: number) =>
      commit.run(async (tx) => {
        await tx.insertInto('item').values({ id, n: 0 }).execute();
        return id;
      });
    const failing = commit.run(async () => {
      throw new Error('unit failed');
    });
    const results = await Promise.allSettled([add(1), failing, add(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await ids(db)).toEqual([]);
    // The next batch is unaffected.
    expect(await Promise.all([add(3), add(4)])).toEqual([3, 4]);
    expect(await ids(db)).toEqual([3, 4]);
  });
  it('keeps the batch when a unit catches the refusal of its own statement', async () => {
    // What prekeys.ts relies on when a fetch's target is deleted meanwhile: SQLite undoes only
    // the refused statement, and the unit reports it as its result.
    await sql`CREATE TABLE ref (id integer primary key, item_id integer not null references item (id))`.execute(
      db,
    );
    const commit = new SqliteGroupCommit(db);
    const add = (id: number) =>
      commit.run(async (tx) => {
        await tx.insertInto('item').values({ id, n: 0 }).execute();
        return 'added';
      });
    const refer = commit.run(async (tx) => {
      try {
        await sql`INSERT INTO ref (id, item_id) VALUES (1, 99)`.execute(tx);
        return 'referred';
      } catch (err) {
        return (err as { code?: string }).code;
      }
    });
    expect(await Promise.all([add(1), refer, add(2)])).toEqual([
      'added',
      'SQLITE_CONSTRAINT_FOREIGNKEY',
      'added',
    ]);
    expect(begins).toBe(1);
    expect(await ids(db)).toEqual([1, 2]);
  });
});

describe.each(ALL_DIALECTS)('commitSoon (%s)', (dialect) => {
  it('groups on SQLite only, and runs every unit either way', async () => {
    const database = await openTestDatabase<Tables>(dialect);
    try {
      const db = database.db;
      await sql`CREATE TABLE item (id integer primary key, n integer not null)`.execute(db);
      expect(groupCommitOf(db) !== undefined).toBe(dialect === 'sqlite');
      const done = await Promise.all(
        [1, 2, 3].map((id) =>
          commitSoon(db, async (tx) => {
            await tx.insertInto('item').values({ id, n: 0 }).execute();
            return id;
          }),
        ),
      );
      expect(done).toEqual([1, 2, 3]);
      expect(await ids(db)).toEqual([1, 2, 3]);
    } finally {
      await database.dispose();
    }
  });
});
