import type { Compilable, CompiledQuery, Kysely } from 'kysely';

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
  const compiledFor = new WeakMap<Kysely<DB>, { query: CompiledQuery<R>; slots: (K | null)[] }>();
  const compile = (db: Kysely<DB>): { query: CompiledQuery<R>; slots: (K | null)[] } => {
    const query = build(db, placeholders).compile();
    if (query.sql.includes(MARK)) throw new Error('a placeholder was inlined into the SQL text');
    const slots = query.parameters.map((v) => bySlot.get(v) ?? null);
    for (const n of names) {
      if (!slots.includes(n)) throw new Error(`the query does not bind the parameter ${n}`);
    }
    const compiled = { query, slots };
    compiledFor.set(db, compiled);
    return compiled;
  };
  return async (db, values, via = db) => {
    // Compiled for `db` (a transaction is a new object each time; its SQL is the same).
    const { query, slots } = compiledFor.get(db) ?? compile(db);
    const parameters = query.parameters.map((v, i) => {
      const slot = slots[i];
      return slot === null || slot === undefined ? v : values[slot];
    });
    return (await via.executeQuery<R>({ ...query, parameters })).rows;
  };
}
