import type { Kysely } from 'kysely';
import { CamelCasePlugin, sql } from 'kysely';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import { precompiled } from '../src/store/precompiled.js';

interface Tables {
  item: { id: number; name: string; tag: string };
}

describe.each(ALL_DIALECTS)('precompiled queries (%s)', (dialect) => {
  it('builds once per database and binds new values on every run', async () => {
    const database = await openTestDatabase<Tables>(dialect);
    try {
      const db = database.db;
      await sql`CREATE TABLE item (id integer primary key, name text not null, tag text not null)`.execute(
        db,
      );
      await db
        .insertInto('item')
        .values([
          { id: 1, name: 'a', tag: 'x' },
          { id: 2, name: 'b', tag: 'y' },
          { id: 3, name: 'c', tag: 'x' },
        ])
        .execute();
      let builds = 0;
      const byTag = precompiled(['tag', 'after'], (k: Kysely<Tables>, p) => {
        builds++;
        return k
          .selectFrom('item')
          .select(['id', 'name'])
          .where('tag', '=', p.tag)
          .where('name', '>', p.after)
          .where('id', '<', 10)
          .orderBy('id');
      });
      expect(await byTag(db, { tag: 'x', after: '' })).toEqual([
        { id: 1, name: 'a' },
        { id: 3, name: 'c' },
      ]);
      expect(await byTag(db, { tag: 'y', after: '' })).toEqual([{ id: 2, name: 'b' }]);
      expect(await byTag(db, { tag: 'x', after: 'a' })).toEqual([{ id: 3, name: 'c' }]);
      expect(builds).toBe(1);
      // A value that looks like SQL stays a value.
      expect(await byTag(db, { tag: "x' OR '1'='1", after: '' })).toEqual([]);

      const remove = precompiled(['id'], (k: Kysely<Tables>, p) =>
        k
          .deleteFrom('item')
          .where('id', '=', sql<number>`cast(${p.id} as integer)`)
          .returning('name'),
      );
      expect(await remove(db, { id: '2' })).toEqual([{ name: 'b' }]);
      expect(await remove(db, { id: '2' })).toEqual([]);
    } finally {
      await database.dispose();
    }
  });

  it('runs in a transaction on its connection: the same rows, undone by a rollback', async () => {
    const database = await openTestDatabase<Tables>(dialect);
    try {
      const db = database.db;
      await sql`CREATE TABLE item (id integer primary key, name text not null, tag text not null)`.execute(
        db,
      );
      const add = precompiled(['id', 'name'], (k: Kysely<Tables>, p) =>
        k
          .insertInto('item')
          .values({ id: sql<number>`cast(${p.id} as integer)`, name: p.name, tag: 'x' })
          .returning(['id', 'name']),
      );
      const count = precompiled(['tag'], (k: Kysely<Tables>, p) =>
        k
          .selectFrom('item')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('tag', '=', p.tag),
      );
      const plain = precompiled(['id'], (k: Kysely<Tables>, p) =>
        k.deleteFrom('item').where('id', '=', sql<number>`cast(${p.id} as integer)`),
      );
      await db.transaction().execute(async (tx) => {
        expect(await add(db, { id: '1', name: 'a' }, tx)).toEqual([{ id: 1, name: 'a' }]);
        expect(await plain(db, { id: '9' }, tx)).toEqual([]);
        // Kysely's own queries on the transaction see the rows written beside them.
        expect(await tx.selectFrom('item').select('name').execute()).toEqual([{ name: 'a' }]);
      });
      await expect(
        db.transaction().execute(async (tx) => {
          await add(db, { id: '2', name: 'b' }, tx);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(Number((await count(db, { tag: 'x' }))[0]?.n)).toBe(1);
      // A transaction with plugins (which may change rows) runs through Kysely.
      const camel = db.withPlugin(new CamelCasePlugin());
      await camel.transaction().execute(async (tx) => {
        expect(await add(camel, { id: '3', name: 'c' }, tx)).toEqual([{ id: 3, name: 'c' }]);
      });
      expect(Number((await count(db, { tag: 'x' }))[0]?.n)).toBe(2);
    } finally {
      await database.dispose();
    }
  });

  it('refuses a query that inlines a placeholder or leaves a parameter unbound', async () => {
    const database = await openTestDatabase<Tables>(dialect);
    try {
      const inlined = precompiled(['tag'], (k: Kysely<Tables>, p) =>
        k.selectFrom('item').select('id').where('tag', '=', sql.lit(p.tag)),
      );
      await expect(inlined(database.db, { tag: 'x' })).rejects.toThrow(/inlined/);
      const unbound = precompiled(['tag', 'name'], (k: Kysely<Tables>, p) =>
        k.selectFrom('item').select('id').where('tag', '=', p.tag),
      );
      await expect(unbound(database.db, { tag: 'x', name: 'y' })).rejects.toThrow(
        /does not bind the parameter name/,
      );
    } finally {
      await database.dispose();
    }
  });
});
