import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database, DialectName } from './database.js';
import { openDatabase } from './database.js';

/**
 * The PostgreSQL server tests use. Tests run against real PostgreSQL by default; set
 * `SWITCHBOARD_TEST_POSTGRES_URL` to point elsewhere.
 */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env['SWITCHBOARD_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/** A fresh, isolated database of the given dialect; `dispose` drops everything it created. */
export interface TestDatabase<DB> extends Database<DB> {
  dispose(): Promise<void>;
}

/**
 * Opens an empty database for one test: an in-memory SQLite database, or a PostgreSQL schema
 * with a random name that `dispose` drops again.
 */
export async function openTestDatabase<DB>(dialect: DialectName): Promise<TestDatabase<DB>> {
  if (dialect === 'sqlite') {
    const database = await openDatabase<DB>({ url: 'sqlite::memory:' });
    return { ...database, dispose: database.close };
  }
  const url = testPostgresUrl();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const database = await openDatabase<DB>({ url, schema, poolSize: 4 });
  return {
    ...database,
    dispose: async () => {
      await database.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Every dialect the storage layer supports; loop tests over it (as kysely does). */
export const ALL_DIALECTS: readonly DialectName[] = ['sqlite', 'postgres'];
