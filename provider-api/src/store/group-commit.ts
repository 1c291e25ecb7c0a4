import type { Kysely } from 'kysely';
import { SqliteAdapter } from 'kysely';

/** Work on the database that must commit before its result is used; `db` may be a transaction. */
export type Unit<DB, T> = (db: Kysely<DB>) => Promise<T>;

interface Pending<DB> {
  readonly unit: Unit<DB, unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** Most units one transaction runs; more wait for the next one. */
const MAX_BATCH = 256;

/**
 * SQLite group commit: the units of work that arrive together (in the same turn of the event
 * loop, e.g. the writes of requests read together) run one after the other in one transaction,
 * so that one commit (one append to the WAL) serves them all instead of one each. SQLite runs
 * their statements one at a time on its one connection, so each unit sees the writes of those
 * before it, exactly as if they had committed one by one; every result waits for the commit. A
 * lone unit runs in a transaction too: its writes commit together (one WAL append, not one per
 * statement) and none stays if it throws. Units must express their
 * outcome in their result, not by throwing: if one throws, the transaction rolls back and every
 * unit of the batch fails with that error (none of their writes stays).
 */
export class SqliteGroupCommit<DB> {
  private pending: Pending<DB>[] = [];

  constructor(private readonly db: Kysely<DB>) {}

  /** Runs `unit` in the next batch; resolves after that batch committed. */
  run<T>(unit: Unit<DB, T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const item = { unit, resolve, reject } as Pending<DB>;
      // The first of a batch schedules it: after the I/O callbacks of this turn of the loop.
      if (this.pending.push(item) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, MAX_BATCH);
    if (this.pending.length > 0) setImmediate(() => this.flush());
    const run = this.db.transaction().execute(async (tx) => {
      const out: unknown[] = [];
      for (const p of batch) out.push(await p.unit(tx));
      return out;
    });
    run.then(
      (results) => batch.forEach((p, i) => p.resolve(results[i])),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
  }
}

const commits = new WeakMap<Kysely<never>, SqliteGroupCommit<never>>();

/** The group commit of a SQLite database (one per `db`), or undefined for PostgreSQL. */
export function groupCommitOf<DB>(db: Kysely<DB>): SqliteGroupCommit<DB> | undefined {
  const key = db as unknown as Kysely<never>;
  let commit = commits.get(key);
  if (!commit) {
    if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return undefined;
    commit = new SqliteGroupCommit<never>(key);
    commits.set(key, commit);
  }
  return commit as unknown as SqliteGroupCommit<DB>;
}

/** Runs `unit` in the group commit of a SQLite `db`, or straight on a PostgreSQL one. */
export function commitSoon<DB, T>(db: Kysely<DB>, unit: Unit<DB, T>): Promise<T> {
  const commit = groupCommitOf(db);
  return commit ? commit.run(unit) : unit(db);
}
