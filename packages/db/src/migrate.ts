import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DialectName } from './database.js';

/**
 * A migration written once for both engines. `dialect` lets the few engine-specific column
 * types (see {@link columnTypes}) be chosen without branching the schema.
 */
export interface PortableMigration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
  down?(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

/** Thrown when a migration fails; nothing of that run is applied. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * Applies every pending migration of one part, in name order, in one transaction: either all
 * of them are applied or none (both engines have transactional DDL). Each part keeps its own
 * history table (`<part>_migrations`, the same shape Kysely's Migrator uses) in the schema the
 * connection writes to, so several parts and several schemas share a database without
 * colliding. On PostgreSQL an advisory lock serialises replicas starting together.
 *
 * We do not use Kysely's Migrator: it finds its tables by introspecting every schema of the
 * database, which both mistakes another schema's history for ours and fails when another
 * schema is dropped while it looks.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: DialectName,
  part: string,
  migrations: Readonly<Record<string, PortableMigration>>,
): Promise<readonly string[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(part)) throw new MigrationError(`invalid part name ${part}`);
  const table = sql.table(`${part}_migrations`);
  await sql`CREATE TABLE IF NOT EXISTS ${table} (name varchar(255) PRIMARY KEY, timestamp varchar(255) NOT NULL)`.execute(
    db,
  );
  const names = Object.keys(migrations).sort();
  return db.transaction().execute(async (tx) => {
    if (dialect === 'postgres') {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`${part}_migrations`}))`.execute(tx);
    }
    const rows = await sql<{ name: string }>`SELECT name FROM ${table}`.execute(tx);
    const done = new Set(rows.rows.map((r) => r.name));
    const last = [...done].sort().at(-1);
    const pending = names.filter((n) => !done.has(n));
    const early = pending.find((n) => last !== undefined && n < last);
    if (early !== undefined) {
      throw new MigrationError(
        `migration ${part}/${early} sorts before the already applied ${part}/${last}; rename it`,
      );
    }
    for (const name of pending) {
      try {
        await migrations[name]!.up(tx, dialect);
      } catch (err) {
        throw new MigrationError(
          `migration ${part}/${name} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      await sql`INSERT INTO ${table} (name, timestamp) VALUES (${name}, ${new Date().toISOString()})`.execute(
        tx,
      );
    }
    return pending;
  });
}

/** Column types that differ between the engines, for use in migrations. */
export function columnTypes(dialect: DialectName): {
  readonly bytes: 'blob' | 'bytea';
  readonly timestamp: 'integer' | 'bigint';
  readonly bigint: 'integer' | 'bigint';
} {
  return dialect === 'sqlite'
    ? { bytes: 'blob', timestamp: 'integer', bigint: 'integer' }
    : { bytes: 'bytea', timestamp: 'bigint', bigint: 'bigint' };
}
