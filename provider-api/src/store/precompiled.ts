import type { Compilable, CompiledQuery, Kysely, SqliteDatabase } from 'kysely';
import { sqliteConnectionOf } from '@switchboard/db';

// Placeholder values: no real parameter starts with a NUL character.
const MARK = '\u0000precompiled:';

/** A query compiled once per database; each run only binds new parameter values. */
export type PrecompiledQuery<DB, K extends string, R> = (
  db: Kysely<DB>,
  values: Readonly<Record<K, unknown>>,
  /** Where to run it, when not on `db` itself: a transaction opened on `db`. */
  via?: Kysely<DB>,
) => Promise<R[]>;

/**
 * Builds and compiles a Kysely query once per database instead of on every request (on the hot
 * paths, building and compiling cost more than running the query). `build` receives one
 * placeholder per parameter name and must use each only as a value (Kysely binds values as
 * parameters, never as SQL text); the compiled query is checked for that.
 *
 * @example
 * const byId = precompiled(['id'], (db, p) => db.selectFrom('accounts').selectAll().where('id', '=', p.id));
 * const [row] = await byId(deps.db, { id });
 */
export function precompiled<DB, K extends string, R>(
  names: readonly K[],
  build: (db: Kysely<DB>, placeholders: Readonly<Record<K, string>>) => Compilable<R>,
): PrecompiledQuery<DB, K, R> {
  const placeholders = Object.fromEntries(names.map((n) => [n, `${MARK}${n}`])) as Record<
    K,
    string
  >;
  const bySlot = new Map<unknown, K>(names.map((n) => [placeholders[n], n]));
  const compiledFor = new WeakMap<Kysely<DB>, Compiled<R, K>>();
  const compile = (db: Kysely<DB>): Compiled<R, K> => {
    const query = build(db, placeholders).compile();
    if (query.sql.includes(MARK)) throw new Error('a placeholder was inlined into the SQL text');
    const slots = query.parameters.map((v) => bySlot.get(v) ?? null);
    for (const n of names) {
      if (!slots.includes(n)) throw new Error(`the query does not bind the parameter ${n}`);
    }
    const compiled = { query, slots, sqlite: sqliteConnectionOf(db) };
    compiledFor.set(db, compiled);
    return compiled;
  };
  return async (db, values, via = db) => {
    // Compiled for `db` (a transaction is a new object each time; its SQL is the same).
    const { query, slots, sqlite } = compiledFor.get(db) ?? compile(db);
    const parameters = query.parameters.map((v, i) => {
      const slot = slots[i];
      return slot === null || slot === undefined ? v : values[slot];
    });
    if (sqlite !== undefined && via !== db && via.isTransaction && unplugged(via)) {
      return runOn(sqlite, query.sql, parameters);
    }
    return (await via.executeQuery<R>({ ...query, parameters })).rows;
  };
}

/** A query compiled for one database, with where its parameters go and its SQLite connection. */
interface Compiled<R, K> {
  readonly query: CompiledQuery<R>;
  readonly slots: (K | null)[];
  /** The SQLite connection under the database (undefined: PostgreSQL). */
  readonly sqlite: SqliteDatabase | undefined;
}

/** Whether `db` has no Kysely plugins (which could change a query's rows). */
function unplugged<DB>(db: Kysely<DB>): boolean {
  return db.getExecutor().plugins.length === 0;
}

/**
 * Runs SQL on SQLite's connection straight, as Kysely's SQLite driver runs it (`all` for a
 * statement that returns rows, `run` otherwise; the same rows), without the promises of its
 * executor, connection provider and transaction: the fetch path's statements cost about as
 * much in those as in SQLite. Only inside a transaction on the database, which holds its one
 * connection (a statement run outside one would join whatever transaction held it).
 */
function runOn<R>(sqlite: SqliteDatabase, text: string, parameters: readonly unknown[]): R[] {
  const statement = sqlite.prepare(text);
  if (statement.reader) return statement.all(parameters) as R[];
  statement.run(parameters);
  return [];
}
