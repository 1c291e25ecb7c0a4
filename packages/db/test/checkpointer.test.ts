import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../src/index.js';
import { CHECKPOINTER_NICE, CHECKPOINT_INTERVAL_MS } from '../src/checkpointer.js';

interface Tables {
  item: { id: number; body: string };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rows of `item` in a copy of the database's main file alone, once there are 50 or at the deadline. */
async function itemsInMainFile(file: string, copy: string, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    await sleep(CHECKPOINT_INTERVAL_MS);
    copyFileSync(file, copy);
    const reader = new SQLite(copy, { readonly: true });
    let n = 0;
    try {
      const table = reader.prepare("SELECT 1 FROM sqlite_master WHERE name = 'item'").get();
      if (table) n = (reader.prepare('SELECT count(*) AS n FROM item').get() as { n: number }).n;
    } finally {
      reader.close();
    }
    if (n === 50 || Date.now() > deadline) return n;
  }
}

describe('SQLite WAL checkpoints in a worker thread', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-db-checkpoint-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies committed pages into the database file without the serving connection', async () => {
    const file = join(dir, 'x.db');
    const database = await openDatabase<Tables>({ url: `sqlite:${file}` });
    try {
      await sql`CREATE TABLE item (id integer primary key, body text not null)`.execute(
        database.db,
      );
      await database.db
        .insertInto('item')
        .values(Array.from({ length: 50 }, (_, i) => ({ id: i, body: 'x'.repeat(500) })))
        .execute();
      // Far below the serving connection's own checkpoint threshold: only the worker copies.
      // The worker runs at a low priority, so on a busy machine a round may come late: the
      // main file (without its -wal) is read again each interval, for at most 60 s.
      expect(await itemsInMainFile(file, join(dir, 'copy.db'), 60_000)).toBe(50);
    } finally {
      await database.close();
    }
  });

  it('gives file databases WAL journaling and a 64 MiB page cache', async () => {
    const database = await openDatabase<Tables>({ url: `sqlite:${join(dir, 'z.db')}` });
    try {
      const pragma = async (name: string): Promise<unknown> =>
        Object.values((await sql.raw(`PRAGMA ${name}`).execute(database.db)).rows[0] as object)[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('cache_size')).toBe(-64 * 1024);
    } finally {
      await database.close();
    }
  });

  it('gives a file database the page cache its config asks for, and refuses a bad size', async () => {
    const database = await openDatabase<Tables>({
      url: `sqlite:${join(dir, 'c.db')}`,
      sqliteCacheKiB: 8 * 1024,
    });
    try {
      const rows = (await sql.raw('PRAGMA cache_size').execute(database.db)).rows;
      expect(Object.values(rows[0] as object)[0]).toBe(-8 * 1024);
    } finally {
      await database.close();
    }
    for (const sqliteCacheKiB of [0, -1, 1.5]) {
      await expect(
        openDatabase<Tables>({ url: `sqlite:${join(dir, 'd.db')}`, sqliteCacheKiB }),
      ).rejects.toThrow(/sqliteCacheKiB/);
    }
  });

  it('closes the worker before the database, which then removes its WAL', async () => {
    const file = join(dir, 'y.db');
    const database = await openDatabase<Tables>({ url: `sqlite:${file}` });
    await sql`CREATE TABLE item (id integer primary key, body text not null)`.execute(database.db);
    await database.db.insertInto('item').values({ id: 1, body: 'a' }).execute();
    expect(existsSync(`${file}-wal`)).toBe(true);
    await database.close();
    await database.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reader = new SQLite(file, { readonly: true });
    try {
      expect(reader.prepare('SELECT body FROM item').get()).toEqual({ body: 'a' });
    } finally {
      reader.close();
    }
  });

  // Linux only: the thread's nice value is field 19 of /proc/self/task/<tid>/stat.
  const linux = existsSync('/proc/thread-self');
  (linux ? it : it.skip)(
    'runs the checkpoints at a low priority (nice 10), the serving thread at its own',
    async () => {
      const niceOf = (tid: string): number => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const lowest = (): string[] =>
        readdirSync('/proc/self/task').filter((t) => niceOf(t) === CHECKPOINTER_NICE);
      const before = lowest();
      const database = await openDatabase<Tables>({ url: `sqlite:${join(dir, 'n.db')}` });
      try {
        let found: string[] = [];
        for (let i = 0; i < 100 && found.length === 0; i++) {
          await sleep(50);
          found = lowest().filter((t) => !before.includes(t));
        }
        expect(found).toHaveLength(1);
        expect(CHECKPOINTER_NICE).toBe(10);
        expect(niceOf(String(process.pid))).not.toBe(CHECKPOINTER_NICE);
      } finally {
        await database.close();
      }
    },
  );
});
