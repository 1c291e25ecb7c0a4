export type { Database, DatabaseConfig, DialectName } from './database.js';
export { DatabaseUrlError, openDatabase, parseDatabaseUrl } from './database.js';
export type { PortableMigration } from './migrate.js';
export { MigrationError, columnTypes, migrateToLatest } from './migrate.js';
