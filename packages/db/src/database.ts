import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { FALLBACK_AUTOCHECKPOINT_PAGES, startCheckpointer } from './checkpointer.js';

/** Which SQL engine a {@link Database} talks to. */
export type DialectName = 'sqlite' | 'postgres';

/** Connection settings, parsed once from a `DATABASE_URL`. */
export interface DatabaseConfig {
  /**
   * `sqlite:./data/provider.db` (or `file:`, or `sqlite::memory:`) for the embedded default;
   * `postgres://user@host:5432/db` (or `postgresql://`) for PostgreSQL.
   */
  readonly url: string;
  /** PostgreSQL only: schema to create (if missing) and use; isolates parts or tests sharing a database. */
  readonly schema?: string;
  /** PostgreSQL only: pool size (default 10). */
  readonly poolSize?: number;
  /**
   * SQLite only: page cache of the connection, KiB (default {@link SQLITE_CACHE_KIB}). SQLite
   * walks every cached page at the commit of a transaction whose B-tree split renumbered pages
   * (docs/decisions.md), so a database whose pages are mostly read once (the provider's one-time
   * prekeys) commits faster with a smaller cache.
   */
  readonly sqliteCacheKiB?: number;
}

/** An open database: the Kysely instance plus what callers need to write portable SQL. */
export interface Database<DB> {
  readonly db: Kysely<DB>;
  readonly dialect: DialectName;
  /**
   * PostgreSQL only: notifications between processes sharing the database (LISTEN/NOTIFY),
   * scoped to its schema.
   */
  readonly notifications?: Notifications;
  /** Closes every connection; idempotent. */
  close(): Promise<void>;
}

/** PostgreSQL LISTEN/NOTIFY for one database and schema. */
export interface Notifications {
  /**
   * The channel to `pg_notify` for `name`: prefixed with the schema, so deployments sharing a
   * database do not hear each other.
   */
  channel(name: string): string;
  /**
   * Calls `onPayload` for every notification on `name` (sent by any process, this one too)
   * over a connection of its own, reconnecting after a second when it is lost; the returned
   * function stops listening.
   */
  listen(name: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
}

/** Thrown when a `DATABASE_URL` cannot be used; the message says what form is expected. */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

interface ParsedUrl {
  readonly dialect: DialectName;
  readonly target: string;
}

/** Splits a `DATABASE_URL` into dialect and target (file path or connection string). */
export function parseDatabaseUrl(url: string): ParsedUrl {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { dialect: 'postgres', target: trimmed };
  const sqlite = /^(sqlite|file):(\/\/)?(.+)$/i.exec(trimmed);
  if (sqlite?.[3]) return { dialect: 'sqlite', target: sqlite[3] };
  throw new DatabaseUrlError(
    'DATABASE_URL must start with sqlite: (e.g. sqlite:./data/switchboard.db), file:, ' +
      'postgres:// or postgresql://',
  );
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens a database from a URL. SQLite files get their directory created, WAL journaling,
 * foreign keys, a busy timeout, reused prepared statements and WAL checkpoints in a worker
 * thread; PostgreSQL gets a pool, optionally pinned to a schema.
 *
 * @example
 * const { db, close } = await openDatabase<MyTables>({ url: 'sqlite:./data/x.db' });
 */
export async function openDatabase<DB>(config: DatabaseConfig): Promise<Database<DB>> {
  const { dialect, target } = parseDatabaseUrl(config.url);
  if (dialect === 'sqlite') {
    const cacheKiB = sqliteCacheKiB(config);
    const memory = target === ':memory:';
    if (!memory) mkdirSync(dirname(resolve(target)), { recursive: true, mode: 0o700 });
    const sqlite = new SQLite(memory ? ':memory:' : target);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    // Page cache of up to 64 MiB unless the config names its own (SQLite's default is 2 MiB):
    // hot index and table pages stay in memory instead of being read back from the WAL or the
    // file on every query.
    sqlite.pragma(`cache_size = ${-cacheKiB}`);
    const statements = cachingStatements(sqlite);
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: statements }) });
    connections.set(db, statements);
    if (memory) return { db, dialect, close: onceAsync(() => db.destroy()) };
    // Checkpoints (and their fsyncs) run in a worker thread; this connection only checkpoints
    // by itself if the worker falls far behind.
    sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    const checkpointer = startCheckpointer(resolve(target));
    return {
      db,
      dialect,
      close: onceAsync(async () => {
        await checkpointer.stop();
        await db.destroy();
      }),
    };
  }

  const schema = config.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new DatabaseUrlError(`schema name must match ${SCHEMA_NAME.source}`);
  }
  if (schema !== undefined) {
    const setup = new pg.Client({ connectionString: target });
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await setup.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: target,
    max: config.poolSize ?? 10,
    ...(schema === undefined ? {} : { options: `-c search_path="${schema}"` }),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Set<() => Promise<void>>();
  return {
    db,
    dialect,
    notifications: postgresNotifications(target, schema, listeners),
    close: onceAsync(async () => {
      await Promise.all([...listeners].map((stop) => stop()));
      await db.destroy();
    }),
  };
}

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,30}$/;

function postgresNotifications(
  connectionString: string,
  schema: string | undefined,
  listeners: Set<() => Promise<void>>,
): Notifications {
  const channel = (name: string): string => {
    if (!CHANNEL_NAME.test(name)) throw new Error(`channel name must match ${CHANNEL_NAME.source}`);
    return `${schema ?? 'public'}__${name}`;
  };
  return {
    channel,
    async listen(name, onPayload) {
      const target = channel(name);
      let client: pg.Client | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      const connect = async (): Promise<void> => {
        const c = new pg.Client({ connectionString });
        c.on('notification', (n) => {
          if (n.channel === target) onPayload(n.payload ?? '');
        });
        c.on('error', () => {
          // Lost: reconnect (a notification sent meanwhile is missed; listeners must tolerate that).
          if (client !== c || stopped) return;
          client = undefined;
          void c.end().catch(() => undefined);
          reconnectLater();
        });
        await c.connect();
        await c.query(`LISTEN "${target}"`);
        if (stopped) {
          await c.end();
          return;
        }
        client = c;
      };
      const reconnectLater = (): void => {
        if (stopped) return;
        retry = setTimeout(() => void connect().catch(reconnectLater), 1000);
        retry.unref();
      };
      await connect();
      const stop = onceAsync(async () => {
        stopped = true;
        clearTimeout(retry);
        listeners.delete(stop);
        await client?.end().catch(() => undefined);
        client = undefined;
      });
      listeners.add(stop);
      return stop;
    },
  };
}

/** SQLite page cache per connection, KiB, unless the config names its own. */
export const SQLITE_CACHE_KIB = 64 * 1024;

/** The page cache `config` asks for (KiB): a positive integer, else {@link SQLITE_CACHE_KIB}. */
function sqliteCacheKiB(config: DatabaseConfig): number {
  const kib = config.sqliteCacheKiB ?? SQLITE_CACHE_KIB;
  if (!Number.isInteger(kib) || kib <= 0) {
    throw new RangeError(`sqliteCacheKiB must be a positive integer, not ${kib}`);
  }
  return kib;
}

const connections = new WeakMap<object, SqliteDatabase>();

/**
 * The connection (with its statement cache) under a SQLite database `openDatabase` opened, or
 * undefined (PostgreSQL, or a Kysely made otherwise): for running SQL compiled by Kysely without
 * Kysely's asynchronous layers (`provider-api/src/store/precompiled.ts`). Only for use while the
 * caller holds the connection through Kysely, i.e. inside a transaction it runs on `db`: SQLite
 * has one connection, and a statement run outside would join whatever transaction holds it.
 */
export function sqliteConnectionOf(db: object): SqliteDatabase | undefined {
  return connections.get(db);
}

/** Most prepared statements kept per SQLite database (least recently used dropped first). */
export const SQLITE_STATEMENT_CACHE_SIZE = 256;

/**
 * better-sqlite3 with prepared statements reused by SQL text: Kysely's driver prepares every
 * query anew, which cost about as much as running it on the provider's hot paths. Safe because
 * Kysely runs one query at a time on the connection; a statement still being iterated (a
 * stream) is never handed out again, a fresh one is prepared instead. SQLite re-prepares a
 * statement by itself when the schema changes, and better-sqlite3 reads column names per call.
 */
export function cachingStatements(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(text: string): SQLite.Statement {
      const cached = cache.get(text);
      if (cached && !cached.busy) {
        // Refresh recency: Map iteration order is insertion order.
        cache.delete(text);
        cache.set(text, cached);
        return cached;
      }
      const statement = sqlite.prepare(text);
      if (!cached) {
        if (cache.size >= SQLITE_STATEMENT_CACHE_SIZE) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        cache.set(text, statement);
      }
      return statement;
    },
    close(): void {
      cache.clear();
      sqlite.close();
    },
  };
}

function onceAsync(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
