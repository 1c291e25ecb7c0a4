export type { Database, DatabaseConfig, DialectName, Notifications } from './database.js';
export {
  DatabaseUrlError,
  SQLITE_STATEMENT_CACHE_SIZE,
  cachingStatements,
  openDatabase,
  parseDatabaseUrl,
  sqliteConnectionOf,
} from './database.js';
export type { PortableMigration } from './migrate.js';
export { MigrationError, columnTypes, migrateToLatest } from './migrate.js';
