import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { Migrator, sql } from 'kysely';
import type { DialectName } from './database.js';

/**
 * A migration written once for both engines. `dialect` lets the few engine-specific column
 * types (see {@link columnTypes}) be chosen without branching the schema.
 */
export interface PortableMigration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
  down?(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

/** Thrown when a migration fails; nothing after the failing step is applied. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * Applies every pending migration of one part, in name order. Each part keeps its own history
 * table (`<part>_migrations`), so several parts can share one database without colliding.
 * Each migration runs in a transaction on PostgreSQL; on SQLite, Kysely runs them in order and
 * stops at the first failure.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: DialectName,
  part: string,
  migrations: Readonly<Record<string, PortableMigration>>,
): Promise<readonly string[]> {
  const provider: MigrationProvider = {
    getMigrations: async () =>
      Object.fromEntries(
        Object.entries(migrations).map(([name, m]): [string, Migration] => [
          name,
          {
            up: (tx) => m.up(tx, dialect),
            ...(m.down ? { down: (tx: Kysely<unknown>) => m.down!(tx, dialect) } : {}),
          },
        ]),
      ),
  };
  // Kysely looks for its history tables by name across every schema it can see; pin them to the
  // schema this connection writes to, or a same-named table in another schema is mistaken for ours.
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db)).rows[0]
          ?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: `${part}_migrations`,
    migrationLockTableName: `${part}_migrations_lock`,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(
      `migration ${part}/${failed} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
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
