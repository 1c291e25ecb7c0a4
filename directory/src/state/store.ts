import { randomUUID } from 'node:crypto';
import type { Database, DialectName, PortableMigration } from '@switchboard/db';
import { columnTypes, migrateToLatest } from '@switchboard/db';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { E164Number } from '@switchboard/e164';
import type { Contact, NumberEntry } from '../zone/records.js';

interface NumbersTable {
  number: string;
  provider: string;
  identity_key: string;
  contacts: string;
  serial: number;
  updated_at: number;
}
interface ZoneTable {
  id: number;
  serial: number;
}
interface ReplayNoncesTable {
  key_id: string;
  nonce: string;
  expires_at: number;
}
interface ImportsTable {
  source: string;
  size: number;
  byte_offset: number;
  line: number;
  imported: number;
  refused: number;
  refused_bytes: number;
}
interface RemovedTable {
  number: string;
  serial: number;
}
interface InstanceTable {
  id: number;
  token: string;
}
interface MovesTable {
  id: string;
  number_hash: string;
  from_provider: string;
  to_provider: string;
  kind: string;
  proof_hash: string;
  at: number;
}

/** The directory's tables (prefixed so parts can share one database). */
export interface DirectoryTables {
  directory_numbers: NumbersTable;
  directory_zone: ZoneTable;
  directory_moves: MovesTable;
  directory_replay_nonces: ReplayNoncesTable;
  directory_imports: ImportsTable;
  directory_removed: RemovedTable;
  directory_instance: InstanceTable;
}

const MIGRATIONS: Readonly<Record<string, PortableMigration>> = {
  '0001_numbers': {
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable('directory_numbers')
        .addColumn('number', 'text', (c) => c.primaryKey())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('identity_key', 'text', (c) => c.notNull())
        .addColumn('contacts', 'text', (c) => c.notNull())
        .addColumn('serial', t.bigint, (c) => c.notNull())
        .addColumn('updated_at', t.timestamp, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('directory_zone')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('serial', t.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('directory_moves')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('number_hash', 'text', (c) => c.notNull())
        .addColumn('from_provider', 'text', (c) => c.notNull())
        .addColumn('to_provider', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('proof_hash', 'text', (c) => c.notNull().unique())
        .addColumn('at', t.timestamp, (c) => c.notNull())
        .execute();
    },
  },
  // Signed-request nonces, shared by every replica on the database (replay-cache.ts).
  '0002_replay_nonces': {
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable('directory_replay_nonces')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('expires_at', t.timestamp, (c) => c.notNull())
        .addPrimaryKeyConstraint('directory_replay_nonces_pk', ['key_id', 'nonce'])
        .execute();
      await db.schema
        .createIndex('directory_replay_nonces_expires')
        .on('directory_replay_nonces')
        .column('expires_at')
        .execute();
    },
  },
  // Reloads read only the entries written since the serial they hold (changesSince).
  '0003_numbers_serial': {
    async up(db) {
      await db.schema
        .createIndex('directory_numbers_serial')
        .on('directory_numbers')
        .column('serial')
        .execute();
    },
  },
  // Where each bulk import stands (bulk-import.ts), written with each batch.
  '0004_imports': {
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable('directory_imports')
        .addColumn('source', 'text', (c) => c.primaryKey())
        .addColumn('size', t.bigint, (c) => c.notNull())
        .addColumn('byte_offset', t.bigint, (c) => c.notNull())
        .addColumn('line', t.bigint, (c) => c.notNull())
        .addColumn('imported', t.bigint, (c) => c.notNull())
        .addColumn('refused', t.bigint, (c) => c.notNull())
        .addColumn('refused_bytes', t.bigint, (c) => c.notNull())
        .execute();
    },
  },
  // The serial at which each number was last removed, so the zone image (zone/image.ts) learns
  // removals without reading every number; and a token naming this database, so an image made
  // from another database is never caught up from this one.
  '0005_removed_instance': {
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable('directory_removed')
        .addColumn('number', 'text', (c) => c.primaryKey())
        .addColumn('serial', t.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('directory_removed_serial')
        .on('directory_removed')
        .column('serial')
        .execute();
      await db.schema
        .createTable('directory_instance')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('token', 'text', (c) => c.notNull())
        .execute();
    },
  },
};

/** A stored entry as its row holds it (contacts as JSON text), for copying into the zone image. */
export interface RawEntry {
  readonly number: string;
  readonly serial: number;
  readonly provider: string;
  readonly identityKey: string;
  /** JSON text of the contacts. */
  readonly contacts: string;
}

/** What changed since a serial ({@link DirectoryStore.changesSince}). */
export interface StoreChanges {
  readonly serial: number;
  /** Entries written after the serial asked for. */
  readonly changed: NumberEntry[];
  /** Numbers removed after it (some may have been published again: see `changed`). */
  readonly removed: E164Number[];
  /** Every published number, only when the count differed from what the caller expected. */
  readonly numbers: E164Number[] | undefined;
}

/** One entry as a bulk import stores it. */
export type ImportRow = Pick<NumberEntry, 'number' | 'provider' | 'identityKey' | 'contacts'>;

/** How far the import of one file has come (committed with each batch). */
export interface ImportProgress {
  /** The file's absolute path. */
  readonly source: string;
  /** Its size in octets when the import began. */
  readonly size: number;
  /** Octets read and committed. */
  readonly offset: number;
  /** Lines read and committed. */
  readonly line: number;
  readonly imported: number;
  readonly refused: number;
  /** Length of the refused-lines report written so far. */
  readonly refusedBytes: number;
}

/** Rows per INSERT statement (6 parameters each, under SQLite's 32766). */
const INSERT_ROWS = 1000;

/** A record of a provider change (numbers are stored hashed here; the proof only by hash). */
export interface MoveRecord {
  readonly id: string;
  readonly numberHash: string;
  readonly fromProvider: string;
  readonly toProvider: string;
  readonly kind: 'release' | 'identity-key';
  readonly proofHash: string;
  readonly at: number;
}

/** Outcome of {@link DirectoryStore.put}. */
export interface PutResult {
  readonly entry: NumberEntry;
  readonly created: boolean;
}

/**
 * The directory's durable state: the published numbers and the zone serial. Every change
 * bumps the serial in the same transaction, so the serial names exactly one zone content.
 */
export class DirectoryStore {
  readonly #db: Kysely<DirectoryTables>;
  readonly #dialect: DialectName;

  private constructor(db: Kysely<DirectoryTables>, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  /** Migrates the database and returns a store over it. */
  static async open(database: Database<unknown>): Promise<DirectoryStore> {
    await migrateToLatest(database.db, database.dialect, 'directory', MIGRATIONS);
    const db = database.db as unknown as Kysely<DirectoryTables>;
    // The serial row exists from the first start on; concurrent first starts agree on 1.
    const row = await db.selectFrom('directory_zone').select('serial').executeTakeFirst();
    if (!row) {
      await db
        .insertInto('directory_zone')
        .values({ id: 1, serial: 1 })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    const instance = await db.selectFrom('directory_instance').select('token').executeTakeFirst();
    if (!instance) {
      await db
        .insertInto('directory_instance')
        .values({ id: 1, token: randomUUID() })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    return new DirectoryStore(db, database.dialect);
  }

  get dialect(): DialectName {
    return this.#dialect;
  }

  /** A random token naming this database, made on its first open. */
  async instanceToken(): Promise<string> {
    const row = await this.#db
      .selectFrom('directory_instance')
      .select('token')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return row.token;
  }

  /** The current zone serial. */
  serial(): Promise<number> {
    return readSerial(this.#db);
  }

  /** Every published entry and the serial they belong to, read consistently. */
  async snapshot(): Promise<{ serial: number; entries: NumberEntry[] }> {
    return this.#db.transaction().execute(async (tx) => {
      const serial = await readSerial(tx);
      const rows = await tx.selectFrom('directory_numbers').selectAll().execute();
      return { serial, entries: rows.map(toEntry) };
    });
  }

  /**
   * What changed since the zone content of `serial`, read in one transaction: the current
   * serial, the entries written after `serial` (every write stores the serial it bumped to), the
   * numbers removed after it, and, only when `expected` (the count the caller would have after
   * these changes) differs from how many numbers are published, every published number. Without
   * `expected` the numbers are not counted (a count reads every row: seconds at 10 million), and
   * only removals made through {@link delete} are seen.
   * Undefined when the serial wrapped around since (RFC 1982), or when more than `limit` entries
   * changed: read the whole zone instead.
   */
  async changesSince(
    serial: number,
    expected:
      ((changed: readonly NumberEntry[], removed: readonly E164Number[]) => number) | undefined,
    limit = Infinity,
  ): Promise<StoreChanges | undefined> {
    return this.#db.transaction().execute(async (tx) => {
      const current = await readSerial(tx);
      if (current < serial) return undefined;
      if (Number.isFinite(limit)) {
        const { count } = await tx
          .selectFrom('directory_numbers')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('serial', '>', serial)
          .executeTakeFirstOrThrow();
        if (Number(count) > limit) return undefined;
      }
      const rows = await tx
        .selectFrom('directory_numbers')
        .selectAll()
        .where('serial', '>', serial)
        .execute();
      const changed = rows.map(toEntry);
      const gone = await tx
        .selectFrom('directory_removed')
        .select('number')
        .where('serial', '>', serial)
        .execute();
      const removed = gone.map((r) => r.number as E164Number);
      if (!expected) return { serial: current, changed, removed, numbers: undefined };
      const { count } = await tx
        .selectFrom('directory_numbers')
        .select((eb) => eb.fn.countAll<number | string>().as('count'))
        .executeTakeFirstOrThrow();
      let numbers: E164Number[] | undefined;
      if (Number(count) !== expected(changed, removed)) {
        const all = await tx.selectFrom('directory_numbers').select('number').execute();
        numbers = all.map((r) => r.number as E164Number);
      }
      return { serial: current, changed, removed, numbers };
    });
  }

  /**
   * Up to `limit` stored rows with numbers after `after`, in number order, as stored (contacts
   * left as JSON text): for copying the whole zone into its image.
   */
  async rawPage(after: string, limit: number): Promise<RawEntry[]> {
    const rows = await this.#db
      .selectFrom('directory_numbers')
      .select(['number', 'serial', 'provider', 'identity_key', 'contacts'])
      .where('number', '>', after)
      .orderBy('number')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      number: r.number,
      serial: Number(r.serial),
      provider: r.provider,
      identityKey: r.identity_key,
      contacts: r.contacts,
    }));
  }

  async get(number: E164Number): Promise<NumberEntry | undefined> {
    const row = await this.#db
      .selectFrom('directory_numbers')
      .selectAll()
      .where('number', '=', number)
      .executeTakeFirst();
    return row ? toEntry(row) : undefined;
  }

  /**
   * Creates or replaces an entry, bumping the serial. `expectProvider` is the holder the
   * caller checked (undefined = the number was free); if it changed meanwhile, nothing is
   * written and `undefined` is returned so the caller can re-check.
   */
  async put(
    input: Pick<NumberEntry, 'number' | 'provider' | 'identityKey' | 'contacts'>,
    expectProvider: string | undefined,
    now: number,
    move?: Omit<MoveRecord, 'at'>,
  ): Promise<PutResult | undefined> {
    return this.#db
      .transaction()
      .execute(async (tx) => {
        const serial = await bumpSerial(tx);
        const existing = await tx
          .selectFrom('directory_numbers')
          .select('provider')
          .where('number', '=', input.number)
          .executeTakeFirst();
        if (existing?.provider !== expectProvider) {
          throw new StaleHolder();
        }
        const row = {
          number: input.number,
          provider: input.provider,
          identity_key: input.identityKey,
          contacts: JSON.stringify(input.contacts),
          serial,
          updated_at: now,
        };
        if (existing) {
          await tx
            .updateTable('directory_numbers')
            .set(row)
            .where('number', '=', input.number)
            .execute();
        } else {
          await tx.insertInto('directory_numbers').values(row).execute();
        }
        if (move) {
          await tx
            .insertInto('directory_moves')
            .values({
              id: move.id,
              number_hash: move.numberHash,
              from_provider: move.fromProvider,
              to_provider: move.toProvider,
              kind: move.kind,
              proof_hash: move.proofHash,
              at: now,
            })
            .execute();
        }
        return { entry: toEntry(row), created: !existing || move !== undefined };
      })
      .catch((err: unknown) => {
        if (err instanceof StaleHolder) return undefined;
        throw err;
      });
  }

  /** Whether a move proof (by hash) was already used. */
  async proofUsed(proofHash: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('directory_moves')
      .select('id')
      .where('proof_hash', '=', proofHash)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Removes an entry held by `provider`; false if there was none. Bumps the serial. */
  async delete(number: E164Number, provider: string): Promise<boolean> {
    // The serial is bumped before the row goes, as put() does: the zone image's triggers
    // (zone/image.ts) note the row replaced with the serial of the write that replaced it.
    return this.#db
      .transaction()
      .execute(async (tx) => {
        const serial = await bumpSerial(tx);
        const result = await tx
          .deleteFrom('directory_numbers')
          .where('number', '=', number)
          .where('provider', '=', provider)
          .executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) throw new StaleHolder();
        await tx
          .insertInto('directory_removed')
          .values({ number, serial })
          .onConflict((oc) => oc.column('number').doUpdateSet({ serial }))
          .execute();
        return true;
      })
      .catch((err: unknown) => {
        if (err instanceof StaleHolder) return false;
        throw err;
      });
  }

  /** Where the import of `source` stands, if one began. */
  async importProgress(source: string): Promise<ImportProgress | undefined> {
    const row = await this.#db
      .selectFrom('directory_imports')
      .selectAll()
      .where('source', '=', source)
      .executeTakeFirst();
    if (!row) return undefined;
    const n = (v: number): number => Number(v);
    return {
      source,
      size: n(row.size),
      offset: n(row.byte_offset),
      line: n(row.line),
      imported: n(row.imported),
      refused: n(row.refused),
      refusedBytes: n(row.refused_bytes),
    };
  }

  /**
   * Creates or replaces `rows` (one per number) and records `progress`, bumping the serial
   * once, all in one transaction.
   */
  async importBatch(
    rows: readonly ImportRow[],
    progress: ImportProgress,
    now: number,
  ): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      const serial = rows.length > 0 ? await bumpSerial(tx) : 0;
      for (let i = 0; i < rows.length; i += INSERT_ROWS) {
        const values = rows.slice(i, i + INSERT_ROWS).map((r) => ({
          number: r.number,
          provider: r.provider,
          identity_key: r.identityKey,
          contacts: JSON.stringify(r.contacts),
          serial,
          updated_at: now,
        }));
        await tx
          .insertInto('directory_numbers')
          .values(values)
          .onConflict((oc) =>
            oc.column('number').doUpdateSet((eb) => ({
              provider: eb.ref('excluded.provider'),
              identity_key: eb.ref('excluded.identity_key'),
              contacts: eb.ref('excluded.contacts'),
              serial: eb.ref('excluded.serial'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      const row = {
        source: progress.source,
        size: progress.size,
        byte_offset: progress.offset,
        line: progress.line,
        imported: progress.imported,
        refused: progress.refused,
        refused_bytes: progress.refusedBytes,
      };
      await tx
        .insertInto('directory_imports')
        .values(row)
        .onConflict((oc) => oc.column('source').doUpdateSet(row))
        .execute();
    });
  }

  /** Up to `limit` entries with numbers after `after`, in number order. */
  async page(after: string, limit: number): Promise<NumberEntry[]> {
    const rows = await this.#db
      .selectFrom('directory_numbers')
      .selectAll()
      .where('number', '>', after)
      .orderBy('number')
      .limit(limit)
      .execute();
    return rows.map(toEntry);
  }

  /** Bumps the serial without a content change (re-signing of the exported zone). */
  async bump(): Promise<number> {
    return this.#db.transaction().execute((tx) => bumpSerial(tx));
  }
}

class StaleHolder extends Error {}

async function bumpSerial(tx: Kysely<DirectoryTables>): Promise<number> {
  // RFC 1982 serial arithmetic: wrap inside 32 bits, skipping 0 which some tools treat specially.
  await tx
    .updateTable('directory_zone')
    .set({ serial: sql<number>`CASE WHEN serial >= 4294967295 THEN 1 ELSE serial + 1 END` })
    .where('id', '=', 1)
    .execute();
  return readSerial(tx);
}

async function readSerial(db: Kysely<DirectoryTables>): Promise<number> {
  const row = await db
    .selectFrom('directory_zone')
    .select('serial')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.serial);
}

function toEntry(row: NumbersTable): NumberEntry {
  return {
    number: row.number as E164Number,
    provider: row.provider,
    identityKey: row.identity_key,
    contacts: JSON.parse(row.contacts) as Contact[],
    serial: Number(row.serial),
    updatedAt: Number(row.updated_at),
  };
}
