import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import SQLite from 'better-sqlite3';

/**
 * One stored entry as the image holds it, keyed by its digits (the E.164 number without `+`),
 * its contacts left as the JSON text the store holds.
 */
export interface ImageEntry {
  readonly digits: string;
  readonly serial: number;
  readonly provider: string;
  readonly identityKey: string;
  readonly contacts: string;
}

/** An answer kept in the image: octets as fast-path.ts keeps them, until `renewAt` (seconds). */
export interface ImageAnswer {
  readonly renewAt: number;
  readonly bytes: Uint8Array;
}

/** What one lookup of a name finds: the answer asked for, if kept. */
export interface ImageHit {
  renewAt: number;
  bytes: Uint8Array | undefined;
}

/**
 * Bumped when the tables change shape: an image of another format is made anew. Kept answers
 * are rows of a rowid table with a unique index on their key (format 4), not a `WITHOUT ROWID`
 * table keyed by it (3): answers kept as queries come arrive in no order, and inserting a
 * 300-400 octet row at a random place in the table took about 53 us (page splits of large
 * rows), against 5 us appended to the table with a small index entry; lookups the same (8.5
 * us), measured with 300,000 answers.
 */
const FORMAT = '4';
/** Answers waiting to be written, at most (more are dropped: they are made again on demand). */
const MAX_PENDING = 20_000;
/** Answers written per transaction by the flush timer. */
const FLUSH_BATCH = 2000;
/** Page cache of the image's connection, KiB (bounded, so memory does not grow with the zone). */
const CACHE_KIB = 256 * 1024;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS names (
  digits TEXT PRIMARY KEY, serial INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
  digits TEXT PRIMARY KEY, serial INTEGER NOT NULL, provider TEXT NOT NULL,
  identity_key TEXT NOT NULL, contacts TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (
  digits TEXT NOT NULL, qtype INTEGER NOT NULL, dnssec INTEGER NOT NULL,
  renew_at INTEGER NOT NULL, bytes BLOB NOT NULL, UNIQUE (digits, qtype, dnssec));
CREATE TABLE IF NOT EXISTS journal_steps (
  seq INTEGER PRIMARY KEY, previous INTEGER NOT NULL, serial INTEGER NOT NULL,
  bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS journal_records (
  seq INTEGER NOT NULL, added INTEGER NOT NULL, rr BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS journal_records_seq ON journal_records (seq);
`;

/**
 * In the store's file (source `store`): the rows that updates and deletions replaced, each with
 * the serial of the write that replaced it (`stop`; the store bumps the serial before it
 * writes), kept by triggers for any writer, so the image can tell what a number held at the
 * serial it last applied (the IXFR journal's deleted records). `directory_xfr_floor`: rows
 * replaced at or before it are not kept (before the triggers existed, or pruned).
 */
const STORE_JOURNAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS store.directory_xfr_old (
  stop INTEGER NOT NULL, number TEXT NOT NULL, serial INTEGER NOT NULL, provider TEXT NOT NULL,
  identity_key TEXT NOT NULL, contacts TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS store.directory_xfr_old_number ON directory_xfr_old (number, stop);
CREATE INDEX IF NOT EXISTS store.directory_xfr_old_stop ON directory_xfr_old (stop);
CREATE TABLE IF NOT EXISTS store.directory_xfr_floor (
  id INTEGER PRIMARY KEY, serial INTEGER NOT NULL);
INSERT OR IGNORE INTO store.directory_xfr_floor SELECT 1, serial FROM store.directory_zone
  WHERE id = 1;
CREATE TRIGGER IF NOT EXISTS store.directory_xfr_old_update AFTER UPDATE ON directory_numbers
BEGIN
  INSERT INTO directory_xfr_old SELECT z.serial, OLD.number, OLD.serial, OLD.provider,
    OLD.identity_key, OLD.contacts FROM directory_zone z WHERE z.id = 1;
END;
CREATE TRIGGER IF NOT EXISTS store.directory_xfr_old_delete AFTER DELETE ON directory_numbers
BEGIN
  INSERT INTO directory_xfr_old SELECT z.serial, OLD.number, OLD.serial, OLD.provider,
    OLD.identity_key, OLD.contacts FROM directory_zone z WHERE z.id = 1;
END;
`;
/** Serials of the IXFR journal kept, at most (the oldest dropped first). */
const JOURNAL_STEPS = 16;
/** Octets of records the IXFR journal keeps, at most; a larger step is not journaled (a gap). */
const JOURNAL_BYTES = 64 * 1024 * 1024;
/** Replaced rows kept in the store's file behind the image's serial (for other replicas). */
const STORE_OLD_KEEP = 64;

/**
 * The zone's numbers and the answers made for them in a local SQLite file
 * (`<data>/zone-image.db`), read synchronously by the DNS path, so that neither memory nor
 * start-up grows with the zone, and a restart keeps the signatures it made. The numbers are read
 * from one of two sources:
 *
 * - `store`: the directory's own SQLite store file, attached to the image's connection and only
 *   read (its `directory_numbers` table, keyed by number): nothing is copied, so a first start
 *   answers at once whatever the zone's size; the image holds only the answers;
 * - `own`: tables of the image's own (`names`, digits and serials; `entries`, the rows), copied
 *   from the store page by page: for PostgreSQL stores, which cannot be read synchronously, and
 *   for tests (`:memory:`).
 *
 * Either way it follows the store by serial (zone-state.ts): `token` names the database it was
 * made from, `serial` the zone content it holds, and the answers of every number that changed
 * since are dropped when it catches up. Reading the store's file, the entries of a change are
 * seen from the turn of the event loop after it is committed (lookups of one turn share a read
 * transaction), before the catch-up (under a second later) drops the answers made from the old
 * ones.
 *
 * Warm workers write answers to the same file from their own connections, so every write
 * transaction here begins IMMEDIATE: a deferred one that reads before it writes fails at once
 * ("database is locked", no busy wait) if a worker commits between its read and its first write.
 */
export class ZoneImage {
  readonly #db: SQLite.Database;
  readonly #path: string;
  /** The store's SQLite file when the numbers are read from it (source `store`). */
  readonly #storeFile: string | undefined;
  readonly #sql: SourceSql;
  readonly #find: SQLite.Statement;
  readonly #row: SQLite.Statement;
  readonly #after: SQLite.Statement;
  readonly #putAnswer: SQLite.Statement;
  #at: SQLite.Statement | undefined;
  readonly #pending: Array<[string, number, number, number, Uint8Array]> = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #count: number;
  #serial: number | undefined;
  #token: string | undefined;
  /** Bumped whenever the entries are replaced whole ({@link rebuild}, {@link follow}). */
  #generation = 0;
  readonly #begin: SQLite.Statement;
  readonly #commit: SQLite.Statement;
  /** Whether a read transaction of {@link find} is open (ended on the next turn of the loop). */
  #reading = false;
  readonly #endRead = (): void => this.#endReading();

  private constructor(db: SQLite.Database, path: string, storeFile: string | undefined) {
    this.#db = db;
    this.#path = path;
    this.#storeFile = storeFile;
    const sql = storeFile === undefined ? OWN_SQL : STORE_SQL;
    this.#sql = sql;
    this.#find = db
      .prepare(
        // Only the key of the numbers' table is read (the store's index of numbers alone).
        `SELECT a.renew_at, a.bytes FROM ${sql.names} e LEFT JOIN answers a
         ON a.digits = ? AND a.qtype = ? AND a.dnssec = ? WHERE e.${sql.key} = ?`,
      )
      .raw();
    this.#row = db
      .prepare(
        `SELECT serial, provider, identity_key, contacts FROM ${sql.entries} WHERE ${sql.key} = ?`,
      )
      .raw();
    this.#after = db
      .prepare(
        `SELECT ${sql.digits} FROM ${sql.names} WHERE ${sql.key} > ? ORDER BY ${sql.key} LIMIT ?`,
      )
      .pluck();
    this.#putAnswer = db.prepare('INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)');
    this.#begin = db.prepare('BEGIN');
    this.#commit = db.prepare('COMMIT');
    this.#count = Number(this.#meta('count') ?? 0);
    const serial = this.#meta('serial');
    this.#serial = serial === undefined ? undefined : Number(serial);
    this.#token = this.#meta('token');
  }

  /**
   * Opens the first image of `paths` no other directory (process, or instance in this process)
   * holds, or an in-memory one when all are held: replicas sharing a data directory each keep
   * their own. `answersFor` and `storeFile` as {@link open}.
   */
  static claim(paths: readonly string[], answersFor: string, storeFile?: string): ZoneImage {
    for (const path of paths) {
      if (!claimFile(path)) continue;
      try {
        return ZoneImage.open(path, answersFor, storeFile);
      } catch (err) {
        releaseFile(path);
        throw err;
      }
    }
    return ZoneImage.open(':memory:', answersFor, storeFile);
  }

  /**
   * Opens (or creates) the image at `path`. `answersFor` names what kept answers depend on
   * (apex, TTLs, key): when it differs from the image's, the kept answers are dropped.
   * `storeFile`: the store's SQLite file, to read the numbers from (source `store`); without it
   * the image holds its own copy. An image of another format or source is made anew.
   */
  static open(path: string, answersFor: string, storeFile?: string): ZoneImage {
    if (path === ':memory:') return ZoneImage.#open(path, answersFor, storeFile);
    try {
      return ZoneImage.#open(path, answersFor, storeFile);
    } catch {
      // Unreadable, or of another format or source: made anew.
      for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
      return ZoneImage.#open(path, answersFor, storeFile);
    }
  }

  static #open(path: string, answersFor: string, storeFile: string | undefined): ZoneImage {
    const db = new SQLite(path);
    try {
      db.pragma('journal_mode = WAL');
      // Losing the last writes in a crash is harmless: the image catches up from the store.
      db.pragma('synchronous = OFF');
      db.pragma(`cache_size = ${-CACHE_KIB}`);
      db.exec(SCHEMA);
      const get = db.prepare('SELECT v FROM meta WHERE k = ?').pluck();
      const set = db.prepare('INSERT OR REPLACE INTO meta VALUES (?, ?)');
      const source = storeFile === undefined ? 'own' : 'store';
      const format = get.get('format') as string | undefined;
      if (format === undefined) {
        db.exec('DELETE FROM names; DELETE FROM entries; DELETE FROM answers; DELETE FROM meta;');
        db.exec(CLEAR_JOURNAL);
        set.run('format', FORMAT);
        set.run('source', source);
      } else if (format !== FORMAT || get.get('source') !== source) {
        throw new Error('an image of another format or source');
      }
      if (get.get('answers-for') !== answersFor) {
        db.exec("DELETE FROM answers; DELETE FROM meta WHERE k = 'warm'");
        db.exec(CLEAR_JOURNAL);
        set.run('answers-for', answersFor);
      }
      if (storeFile !== undefined) {
        db.prepare('ATTACH DATABASE ? AS store').run(storeFile);
        db.pragma(`store.cache_size = ${-CACHE_KIB}`);
        db.transaction(() => db.exec(STORE_JOURNAL_SCHEMA)).immediate();
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return new ZoneImage(db, path, storeFile);
  }

  /** The zone serial whose content the image holds; undefined before it was first filled. */
  get serial(): number | undefined {
    return this.#serial;
  }

  /** The token of the store the image was filled from. */
  get token(): string | undefined {
    return this.#token;
  }

  /**
   * The files a connection of another thread opens to warm the image ({@link ImageWarmRows}):
   * undefined for an in-memory image, which only this connection sees.
   */
  get files(): ImageFiles | undefined {
    if (this.#path === ':memory:') return undefined;
    return {
      path: this.#path,
      ...(this.#storeFile !== undefined ? { storeFile: this.#storeFile } : {}),
    };
  }

  /**
   * The digits of the `n`-th number after `after` (n >= 1), in order; undefined when fewer
   * follow. Bounds a range of numbers for {@link ImageWarmRows.rows}.
   */
  digitsAt(after: string, n: number): string | undefined {
    const sql = this.#sql;
    this.#at ??= this.#db
      .prepare(
        `SELECT ${sql.digits} FROM ${sql.names} WHERE ${sql.key} > ? ORDER BY ${sql.key}
         LIMIT 1 OFFSET ?`,
      )
      .pluck();
    return this.#at.get(sql.keyOf(after), n - 1) as string | undefined;
  }

  /** Whether the numbers are read from the store's own file (nothing to copy or count). */
  get readsStore(): boolean {
    return this.#storeFile !== undefined;
  }

  /** Numbers held (counted, reading the store's file: for tests, not for hot paths). */
  get count(): number {
    if (this.#storeFile === undefined) return this.#count;
    return this.#db.prepare('SELECT count(*) FROM store.directory_numbers').pluck().get() as number;
  }

  /** Bumped whenever the entries are replaced whole. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Whether every entry had its answers made once since the entries were last replaced whole
   * (set by the warmer, warmer.ts); entries changed since are the warmer's to follow.
   */
  get warmed(): boolean {
    return this.#meta('warm') === '1';
  }

  markWarmed(): void {
    this.#endReading();
    this.#db.prepare("INSERT OR REPLACE INTO meta VALUES ('warm', '1')").run();
  }

  /** Up to `limit` numbers (digits) after `after`, in order. */
  digitsAfter(after: string, limit: number): string[] {
    return this.#after.all(this.#sql.keyOf(after), limit) as string[];
  }

  /**
   * Looks `digits` up: undefined if no such number, else the answer kept for `qtype` with or
   * without DNSSEC (`bytes` undefined when none is kept). Fills `hit`.
   */
  find(digits: string, qtype: number, dnssec: boolean, hit: ImageHit): ImageHit | undefined {
    this.#read();
    const row = this.#find.get(digits, qtype, dnssec ? 1 : 0, this.#sql.keyOf(digits)) as
      [number | null, Uint8Array | null] | undefined;
    if (!row) return undefined;
    hit.renewAt = row[0] ?? 0;
    hit.bytes = row[1] ?? undefined;
    return hit;
  }

  /** The entry of `digits`, if held. */
  entry(digits: string): ImageEntry | undefined {
    this.#read();
    const row = this.#row.get(this.#sql.keyOf(digits)) as
      [number, string, string, string] | undefined;
    if (!row) return undefined;
    const [serial, provider, identityKey, contacts] = row;
    return { digits, serial: Number(serial), provider, identityKey, contacts };
  }
  /**
   * Keeps an answer (written with others shortly after, in one transaction). Kept answers of a
   * number are dropped when it changes ({@link apply}).
   */
  keepAnswer(
    digits: string,
    qtype: number,
    dnssec: boolean,
    renewAt: number,
    bytes: Uint8Array,
  ): void {
    if (this.#pending.length >= MAX_PENDING) return;
    this.#pending.push([digits, qtype, dnssec ? 1 : 0, renewAt, Uint8Array.from(bytes)]);
    this.#flushTimer ??= setTimeout(() => this.flush(false), 200).unref();
  }

  /**
   * Writes the answers kept since the last flush: all of them, or (from the timer) a batch of
   * at most a few thousand, so the event loop is held for a few milliseconds at most.
   */
  flush(all = true): void {
    this.#endReading();
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, all ? this.#pending.length : FLUSH_BATCH);
    if (this.#pending.length > 0) this.#flushTimer = setTimeout(() => this.flush(false), 1).unref();
    // Every pending answer is for the entries held now: apply() and rebuild() flush first.
    this.#db
      .transaction(() => {
        for (const [digits, qtype, dnssec, renewAt, bytes] of batch) {
          this.#putAnswer.run(digits, qtype, dnssec, renewAt, bytes);
        }
      })
      .immediate();
  }

  /**
   * Applies one step of the store's history in one transaction: the `changed` entries (new or
   * replaced) and the `removed` numbers (digits; removals first, so a number removed and
   * published again is kept), to the content of `serial`. Kept answers of every number
   * touched are dropped. Reading the store's file, only that and the serial are written.
   */
  apply(
    serial: number,
    changed: readonly ImageEntry[],
    removed: readonly string[],
    token: string,
    encode?: JournalEncoder,
  ): void {
    this.flush();
    const db = this.#db;
    const delAnswers = db.prepare('DELETE FROM answers WHERE digits = ?');
    const previous = this.#token === token ? this.#serial : undefined;
    if (this.#storeFile !== undefined) {
      db.transaction(() => {
        this.#journalStep(previous, serial, changed, removed, encode);
        for (const digits of removed) delAnswers.run(digits);
        for (const e of changed) delAnswers.run(e.digits);
        this.#setMeta({ serial, count: 0, token });
      }).immediate();
      return;
    }
    const del = db.prepare('DELETE FROM entries WHERE digits = ?');
    const delName = db.prepare('DELETE FROM names WHERE digits = ?');
    const putName = db.prepare('INSERT OR REPLACE INTO names VALUES (?, ?)');
    const has = db.prepare('SELECT 1 FROM names WHERE digits = ?');
    const put = db.prepare('INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      // Before the entries change: the old rows are read from them.
      this.#journalStep(previous, serial, changed, removed, encode);
      let count = this.#count;
      for (const digits of removed) {
        count -= delName.run(digits).changes;
        del.run(digits);
        delAnswers.run(digits);
      }
      for (const e of changed) {
        if (has.get(e.digits) === undefined) count += 1;
        put.run(e.digits, e.serial, e.provider, e.identityKey, e.contacts);
        putName.run(e.digits, e.serial);
        delAnswers.run(e.digits);
      }
      this.#setMeta({ serial, count, token });
    }).immediate();
  }

  /**
   * Within {@link apply}'s transaction: journals the step from `previous` to `serial` (per
   * number touched, the wire records it lost and gained), then drops the oldest steps beyond
   * the journal's bounds. Without an encoder, a previous serial or the old rows (the store's
   * replaced rows pruned), or when the step alone is over the bound, the journal is cleared
   * (IXFR from before then answers the whole zone).
   */
  #journalStep(
    previous: number | undefined,
    serial: number,
    changed: readonly ImageEntry[],
    removed: readonly string[],
    encode: JournalEncoder | undefined,
  ): void {
    const db = this.#db;
    const records =
      previous === undefined ||
      serial <= previous ||
      encode === undefined ||
      !this.#oldRowsKept(previous)
        ? undefined
        : stepRecords(changed, removed, (digits) => this.#oldRow(digits, previous), encode);
    if (this.#storeFile !== undefined && serial > STORE_OLD_KEEP) {
      const floor = serial - STORE_OLD_KEEP;
      db.prepare('DELETE FROM store.directory_xfr_old WHERE stop <= ?').run(floor);
      db.prepare('UPDATE store.directory_xfr_floor SET serial = max(serial, ?)').run(floor);
    }
    if (records === undefined) {
      db.exec(CLEAR_JOURNAL);
      return;
    }
    const seq = db
      .prepare('INSERT INTO journal_steps (previous, serial, bytes) VALUES (?, ?, ?)')
      .run(previous, serial, records.bytes).lastInsertRowid;
    const put = db.prepare('INSERT INTO journal_records VALUES (?, ?, ?)');
    for (const rr of records.deleted) put.run(seq, 0, rr);
    for (const rr of records.added) put.run(seq, 1, rr);
    const total = db.prepare('SELECT count(*), coalesce(sum(bytes), 0) FROM journal_steps').raw();
    for (;;) {
      const [steps, bytes] = total.get() as [number, number];
      if (steps <= JOURNAL_STEPS && bytes <= JOURNAL_BYTES) break;
      db.exec(`DELETE FROM journal_records WHERE seq = (SELECT min(seq) FROM journal_steps);
        DELETE FROM journal_steps WHERE seq = (SELECT min(seq) FROM journal_steps)`);
    }
  }

  /** Whether the rows numbers held at `previous` can be told (reading the store's file). */
  #oldRowsKept(previous: number): boolean {
    if (this.#storeFile === undefined) return true;
    const floor = this.#db
      .prepare('SELECT serial FROM store.directory_xfr_floor WHERE id = 1')
      .pluck()
      .get() as number | undefined;
    return floor !== undefined && floor <= previous;
  }

  /** The entry `digits` had at `previous` (the image's serial, before the step is applied). */
  #oldRow(digits: string, previous: number): ImageEntry | undefined {
    if (this.#storeFile === undefined) return this.entry(digits);
    // The first row replaced after `previous`: the one held then, unless written after it.
    const row = this.#db
      .prepare(
        `SELECT serial, provider, identity_key, contacts FROM store.directory_xfr_old
         WHERE number = ? AND stop > ? ORDER BY stop LIMIT 1`,
      )
      .raw()
      .get(`+${digits}`, previous) as [number, string, string, string] | undefined;
    if (!row || Number(row[0]) > previous) return undefined;
    const [rowSerial, provider, identityKey, contacts] = row;
    return { digits, serial: Number(rowSerial), provider, identityKey, contacts };
  }

  /**
   * Keeps the IXFR journal only if it was written for `fingerprint` (what the transferred apex
   * records depend on besides the serial: settings and the DNSKEY set), else clears it.
   */
  journalFor(fingerprint: string): void {
    this.#endReading();
    if (this.#meta('journal-for') === fingerprint) return;
    this.#db
      .transaction(() => {
        this.#db.exec(CLEAR_JOURNAL);
        this.#db.prepare("INSERT OR REPLACE INTO meta VALUES ('journal-for', ?)").run(fingerprint);
      })
      .immediate();
  }

  /**
   * The condensed difference (RFC 1995 4) from `from` to `to` from the journal: the records
   * deleted and added, or undefined when the journal does not hold every step between them
   * (null: they hold more than `maxBytes` of records, left for a worker to read).
   */
  journal(from: number, to: number, maxBytes = Infinity): JournalDifference | undefined | null {
    this.#endReading();
    // Written only by this connection, on this thread: nothing changes between its reads.
    return readJournal(this.#db, from, to, maxBytes);
  }

  /**
   * Takes the store's file as the content of `serial` (source `store`: a first start, or a
   * store too far ahead to catch up with): nothing is copied; the kept answers stay only for
   * numbers neither written nor removed since the image's serial, in the same store.
   */
  follow(serial: number, token: string): void {
    if (this.#storeFile === undefined) throw new Error('the image holds its own entries');
    this.flush();
    const db = this.#db;
    const before = this.#keptUpTo(serial, token);
    db.transaction(() => {
      if (before < 0) db.exec('DELETE FROM answers');
      else {
        // By the store's serial indexes: what changed costs, not the zone's size. (Answers of
        // numbers a foreign writer removed may stay: a lookup finds no number, so never served.)
        for (const table of ['directory_numbers', 'directory_removed']) {
          db.prepare(
            `DELETE FROM answers WHERE digits IN
             (SELECT substr(number, 2) FROM store.${table} WHERE serial > ?)`,
          ).run(before);
        }
      }
      this.#setMeta({ serial, count: 0, token });
      db.exec("DELETE FROM meta WHERE k = 'warm'");
      db.exec(CLEAR_JOURNAL);
    }).immediate();
    this.#generation += 1;
  }

  /**
   * Starts filling the image anew (source `own`: a first start, or a store too far ahead to
   * catch up with): rows go into a table of their own, which {@link ImageBuild.finish} puts in
   * place of the entries in one step, so the DNS path reads the old content until then.
   */
  rebuild(): ImageBuild {
    if (this.#storeFile !== undefined) throw new Error("the image reads the store's file");
    this.flush();
    const db = this.#db;
    db.exec('DROP TABLE IF EXISTS entries_next; DROP TABLE IF EXISTS names_next');
    db.exec(
      `CREATE TABLE entries_next (digits TEXT PRIMARY KEY, serial INTEGER NOT NULL,
       provider TEXT NOT NULL, identity_key TEXT NOT NULL, contacts TEXT NOT NULL) WITHOUT ROWID`,
    );
    const put = db.prepare('INSERT OR REPLACE INTO entries_next VALUES (?, ?, ?, ?, ?)');
    let count = 0;
    const add = db.transaction((rows: readonly ImageEntry[]) => {
      for (const e of rows) put.run(e.digits, e.serial, e.provider, e.identityKey, e.contacts);
      count += rows.length;
    });
    return {
      add: (rows) => {
        this.#endReading();
        add.immediate(rows);
      },
      finish: (serial, token) => {
        this.flush();
        const before = this.#keptUpTo(serial, token);
        db.transaction(() => {
          // The numbers alone, in a table of their own: small enough for the page cache, so
          // a lookup (a miss above all) reads no file.
          db.exec(`CREATE TABLE names_next (digits TEXT PRIMARY KEY, serial INTEGER NOT NULL)
            WITHOUT ROWID; INSERT INTO names_next SELECT digits, serial FROM entries_next`);
          db.exec(`DROP TABLE entries; ALTER TABLE entries_next RENAME TO entries;
            DROP TABLE names; ALTER TABLE names_next RENAME TO names`);
          // Kept answers stay for the numbers whose entry is the one the old content held
          // (written at or before its serial, from the same store); the rest go.
          db.prepare(
            `DELETE FROM answers WHERE NOT EXISTS (SELECT 1 FROM names e
             WHERE e.digits = answers.digits AND e.serial <= ?)`,
          ).run(before);
          this.#setMeta({ serial, count, token });
          db.exec("DELETE FROM meta WHERE k = 'warm'");
          db.exec(CLEAR_JOURNAL);
        }).immediate();
        this.#generation += 1;
      },
    };
  }

  /**
   * Every entry in digit order, as held now, read on a connection of its own in one read
   * transaction (changes applied meanwhile are not seen), so a transfer can read it across many
   * turns of the event loop. The in-memory image is read whole at once. Throws if the content
   * read is no longer that of `serial` (when given): reading the store's file, as soon as a
   * change is committed, until the catch-up that follows.
   */
  *entries(serial?: number): Generator<ImageEntry> {
    const store = this.#storeFile;
    const memory = store === undefined && this.#path === ':memory:';
    const reader = memory ? this.#db : new SQLite(store ?? this.#path, { readonly: true });
    try {
      if (!memory) reader.exec('BEGIN');
      yield* readEntries(reader, store !== undefined, serial, !memory);
    } finally {
      if (!memory) reader.close();
    }
  }

  /**
   * Up to `limit` kept answers after `after` (digits, qtype, dnssec) in key order, with when
   * each is to be renewed: for renewing them ahead of expiry in small slices.
   */
  keptAnswers(
    after: readonly [string, number, number],
    limit: number,
  ): Array<[string, number, number, number]> {
    return this.#db
      .prepare(
        `SELECT digits, qtype, dnssec, renew_at FROM answers
         WHERE (digits, qtype, dnssec) > (?, ?, ?) ORDER BY digits, qtype, dnssec LIMIT ?`,
      )
      .raw()
      .all(...after, limit) as Array<[string, number, number, number]>;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      this.#db.close();
      this.#reading = false;
      if (this.#path !== ':memory:') releaseFile(this.#path);
    }
  }

  /**
   * The serial up to which kept answers still hold when the image is taken to `serial` of the
   * store `token`: its own, if from the same store and not ahead of it (a store restored from
   * an older copy has gone back); else -1, none.
   */
  #keptUpTo(serial: number, token: string): number {
    const held = this.#serial;
    return this.#token === token && held !== undefined && held <= serial ? held : -1;
  }

  /**
   * Opens a read transaction, if none is, that ends on the next turn of the event loop: the
   * lookups of the queries read in one turn share it, instead of each taking and releasing the
   * file locks of both databases (four fcntl and two fstat calls: a third of a lookup's time).
   * Warm workers and the store's writer are not held back (WAL); what they commit is seen from
   * the next turn. Every write of this connection ends it first ({@link flush} and the rest).
   */
  #read(): void {
    if (this.#reading || this.#db.inTransaction) return; // (or within a write of its own)
    this.#begin.run();
    this.#reading = true;
    setImmediate(this.#endRead);
  }

  #endReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    if (this.#db.inTransaction) this.#commit.run();
  }

  #meta(k: string): string | undefined {
    return (
      (this.#db.prepare('SELECT v FROM meta WHERE k = ?').pluck().get(k) as string | undefined) ??
      undefined
    );
  }

  #setMeta(values: { serial: number; count: number; token: string }): void {
    const set = this.#db.prepare('INSERT OR REPLACE INTO meta VALUES (?, ?)');
    set.run('serial', String(values.serial));
    set.run('count', String(values.count));
    set.run('token', values.token);
    this.#serial = values.serial;
    this.#count = values.count;
    this.#token = values.token;
  }
}

const CLEAR_JOURNAL = 'DELETE FROM journal_records; DELETE FROM journal_steps;';

/** The wire records of an entry as transferred (none when it cannot be served). */
export type JournalEncoder = (row: ImageEntry) => readonly Uint8Array[];

/** A condensed IXFR difference: records deleted and added, in wire form. */
export interface JournalDifference {
  readonly deleted: readonly Uint8Array[];
  readonly added: readonly Uint8Array[];
}

const keyOfRecord = (rr: Uint8Array): string =>
  Buffer.from(rr.buffer, rr.byteOffset, rr.length).toString('latin1');

/**
 * The records one step deleted and added, per number touched (`removed` first, then `changed`,
 * as {@link ZoneImage.apply} applies them): its records before (`oldRow`) against after, octet
 * for octet. Undefined when they come to more than the journal holds.
 */
function stepRecords(
  changed: readonly ImageEntry[],
  removed: readonly string[],
  oldRow: (digits: string) => ImageEntry | undefined,
  encode: JournalEncoder,
): (JournalDifference & { readonly bytes: number }) | undefined {
  const now = new Map<string, ImageEntry | undefined>();
  for (const digits of removed) now.set(digits, undefined);
  for (const e of changed) now.set(e.digits, e);
  const deleted: Uint8Array[] = [];
  const added: Uint8Array[] = [];
  let bytes = 0;
  for (const [digits, entry] of now) {
    const old = oldRow(digits);
    const before = new Map((old ? encode(old) : []).map((rr) => [keyOfRecord(rr), rr]));
    for (const rr of entry ? encode(entry) : []) {
      if (before.delete(keyOfRecord(rr))) continue;
      added.push(rr);
      bytes += rr.length;
    }
    for (const rr of before.values()) {
      deleted.push(rr);
      bytes += rr.length;
    }
    if (bytes > JOURNAL_BYTES) return undefined;
  }
  return { deleted, added, bytes };
}

/**
 * The journal's steps from `from` to `to` condensed into one difference (a record deleted and
 * added again, or added and deleted again, is in neither), read on `db` (an image connection,
 * within one read transaction for a consistent answer); undefined unless every step is held,
 * null when the steps hold more than `maxBytes` of records.
 */
export function readJournal(
  db: SQLite.Database,
  from: number,
  to: number,
  maxBytes = Infinity,
): JournalDifference | undefined | null {
  const steps = db
    .prepare('SELECT seq, previous, serial, bytes FROM journal_steps ORDER BY seq')
    .raw()
    .all() as Array<[number, number, number, number]>;
  const first = steps.findIndex(([, previous]) => Number(previous) === from);
  if (first < 0) return undefined;
  const chain: number[] = [];
  let at = from;
  let bytes = 0;
  for (const [seq, previous, serial, size] of steps.slice(first)) {
    if (Number(previous) !== at) return undefined;
    chain.push(seq);
    bytes += Number(size);
    at = Number(serial);
    if (at === to) break;
  }
  if (at !== to) return undefined;
  if (bytes > maxBytes) return null;
  const deleted = new Map<string, Uint8Array>();
  const added = new Map<string, Uint8Array>();
  const records = db.prepare('SELECT added, rr FROM journal_records WHERE seq = ?').raw();
  for (const seq of chain) {
    for (const [isAdded, rr] of records.iterate(seq) as Iterable<[number, Uint8Array]>) {
      const key = keyOfRecord(rr);
      const [mine, other] = isAdded ? [added, deleted] : [deleted, added];
      if (!other.delete(key)) mine.set(key, rr);
    }
  }
  return { deleted: [...deleted.values()], added: [...added.values()] };
}

/**
 * A read-only connection of another thread (a transfer worker, transfer/xfr-worker.ts) to an
 * image on disk: every entry of one version in digit order, or the journal's difference, each
 * read within one read transaction (a WAL snapshot), so changes committed meanwhile are not
 * seen and the DNS path's connection is never held.
 */
export class ImageTransferReader {
  readonly #files: ImageFiles;

  constructor(files: ImageFiles) {
    this.#files = files;
  }

  /**
   * Every entry of the content of `serial`, in digit order (throws if what the file holds is
   * no longer that serial: reading the store's file, from a change's commit until the image
   * catches up).
   */
  *entries(serial: number): Generator<ImageEntry> {
    const reader = new SQLite(this.#files.storeFile ?? this.#files.path, { readonly: true });
    try {
      reader.exec('BEGIN');
      yield* readEntries(reader, this.#files.storeFile !== undefined, serial, true);
    } finally {
      reader.close();
    }
  }

  /** The journal's difference from `from` to `to` ({@link readJournal}), if the image is at `to`. */
  journal(from: number, to: number): JournalDifference | undefined | null {
    const reader = new SQLite(this.#files.path, { readonly: true });
    try {
      reader.exec('BEGIN');
      const held = reader.prepare("SELECT v FROM meta WHERE k = 'serial'").pluck().get();
      if (Number(held) !== to) throw new Error(`the zone image moved on from serial ${to}`);
      return readJournal(reader, from, to);
    } finally {
      reader.close();
    }
  }
}

/**
 * The entries `reader` holds (the store's `directory_numbers`, or the image's own `entries`), in
 * digit order, within the read transaction the caller began; throws if they are not the
 * content of `serial` (when given). `iterate`: row by row, else read whole first.
 */
function* readEntries(
  reader: SQLite.Database,
  store: boolean,
  serial: number | undefined,
  iterate: boolean,
): Generator<ImageEntry> {
  const held = reader
    .prepare(
      store
        ? 'SELECT serial FROM directory_zone WHERE id = 1'
        : "SELECT v FROM meta WHERE k = 'serial'",
    )
    .pluck()
    .get();
  if (serial !== undefined && Number(held) !== serial) {
    throw new Error(`the zone image moved on from serial ${serial}`);
  }
  const stmt = reader
    .prepare(
      store
        ? `SELECT substr(number, 2), serial, provider, identity_key, contacts
           FROM directory_numbers ORDER BY number`
        : 'SELECT digits, serial, provider, identity_key, contacts FROM entries ORDER BY digits',
    )
    .raw();
  const rows = iterate ? stmt.iterate() : stmt.all()[Symbol.iterator]();
  for (const row of rows as Iterable<[string, number, string, string, string]>) {
    const [digits, rowSerial, provider, identityKey, contacts] = row;
    yield { digits, serial: Number(rowSerial), provider, identityKey, contacts };
  }
}

/** The files of an image on disk ({@link ZoneImage.files}). */
export interface ImageFiles {
  readonly path: string;
  readonly storeFile?: string;
}

/** A number's entry read for warming, with the kept DNSSEC answers' renewal times by type. */
export interface WarmRow extends ImageEntry {
  readonly kept: ReadonlyMap<number, number>;
}

/** Answers written per transaction by {@link ImageWarmRows}, at most. */
const WARM_WRITE_BATCH = 128;

/**
 * A connection of its own to an image on disk, for warming it on another thread (a worker,
 * dns/warm-worker.ts): reads ranges of entries with the DNSSEC answers kept for them, and keeps
 * answers in small transactions, each written only if the entry it was made from is still the
 * one held (same serial), so an answer made from an entry changed meanwhile is never kept.
 */
export class ImageWarmRows {
  readonly #db: SQLite.Database;
  readonly #sql: SourceSql;
  readonly #rows: SQLite.Statement;
  readonly #kept: SQLite.Statement;
  readonly #put: SQLite.Statement;
  readonly #write: SQLite.Transaction<(batch: ReadonlyArray<readonly unknown[]>) => unknown>;
  #pending: Array<readonly unknown[]> = [];
  /** Told of each answer written (the entry still the one held), after its transaction. */
  onWritten:
    ((digits: string, qtype: number, renewAt: number, bytes: Uint8Array) => void) | undefined;

  constructor(files: ImageFiles) {
    const db = new SQLite(files.path, { timeout: 60_000 });
    this.#db = db;
    db.pragma('synchronous = OFF');
    const sql = files.storeFile === undefined ? OWN_SQL : STORE_SQL;
    this.#sql = sql;
    if (files.storeFile !== undefined) {
      db.prepare('ATTACH DATABASE ? AS store').run(files.storeFile);
    }
    this.#rows = db
      .prepare(
        `SELECT ${sql.digits}, serial, provider, identity_key, contacts FROM ${sql.entries}
         WHERE ${sql.key} > ? AND ${sql.key} <= ? ORDER BY ${sql.key}`,
      )
      .raw();
    this.#kept = db
      .prepare(
        `SELECT digits, qtype, renew_at FROM answers
         WHERE digits > ? AND digits <= ? AND dnssec = 1`,
      )
      .raw();
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO answers SELECT ?, ?, 1, ?, ?
       WHERE EXISTS (SELECT 1 FROM ${sql.names} WHERE ${sql.key} = ? AND serial = ?)`,
    );
    this.#write = db.transaction((batch: ReadonlyArray<readonly unknown[]>) =>
      batch.filter((values) => this.#put.run(...values).changes > 0),
    );
  }

  /** The entries after `after` up to `upTo` (digits; undefined: to the end), in order. */
  rows(after: string, upTo: string | undefined): WarmRow[] {
    const last = upTo ?? '~'; // after every digit
    const kept = new Map<string, Map<number, number>>();
    for (const [digits, qtype, renewAt] of this.#kept.all(after, last) as Array<
      [string, number, number]
    >) {
      let types = kept.get(digits);
      if (!types) kept.set(digits, (types = new Map()));
      types.set(qtype, renewAt);
    }
    const none = new Map<number, number>();
    const rows = this.#rows.all(this.#sql.keyOf(after), this.#sql.keyOf(last)) as Array<
      [string, number, string, string, string]
    >;
    return rows.map(([digits, serial, provider, identityKey, contacts]) => ({
      digits,
      serial: Number(serial),
      provider,
      identityKey,
      contacts,
      kept: kept.get(digits) ?? none,
    }));
  }

  /**
   * Keeps a DNSSEC answer of `row`: buffered, and written with the others in one short
   * transaction every {@link WARM_WRITE_BATCH} (the write lock is never held while signing).
   */
  keep(row: ImageEntry, qtype: number, renewAt: number, bytes: Uint8Array): void {
    this.#pending.push([
      row.digits,
      qtype,
      renewAt,
      bytes,
      this.#sql.keyOf(row.digits),
      row.serial,
    ]);
    if (this.#pending.length >= WARM_WRITE_BATCH) this.commit();
  }

  /** Writes the answers kept so far (a crash loses at most those not written). */
  commit(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const written = this.#write.immediate(batch) as unknown as ReadonlyArray<
      [string, number, number, Uint8Array]
    >;
    const told = this.onWritten;
    if (told)
      for (const [digits, qtype, renewAt, bytes] of written) told(digits, qtype, renewAt, bytes);
  }

  close(): void {
    try {
      this.commit();
    } finally {
      this.#db.close();
    }
  }
}

/** An image being filled anew ({@link ZoneImage.rebuild}). */
export interface ImageBuild {
  /** Adds rows (in one transaction). */
  add(rows: readonly ImageEntry[]): void;
  /** Puts the rows added in place of the entries, as the content of `serial`. */
  finish(serial: number, token: string): void;
}

/** How the numbers are read: from the image's own tables or from the store's file. */
interface SourceSql {
  /** The table of numbers and serials, and the one of whole rows. */
  readonly names: string;
  readonly entries: string;
  /** The key column, and an expression of the digits. */
  readonly key: string;
  readonly digits: string;
  /** The key of a number's digits. */
  keyOf(digits: string): string;
}

const OWN_SQL: SourceSql = {
  names: 'names',
  entries: 'entries',
  key: 'digits',
  digits: 'digits',
  keyOf: (digits) => digits,
};

/** The store's table (store.ts) keys numbers with their `+`. */
const STORE_SQL: SourceSql = {
  names: 'store.directory_numbers',
  entries: 'store.directory_numbers',
  key: 'number',
  digits: 'substr(number, 2)',
  keyOf: (digits) => `+${digits}`,
};

/** Image files held by this process. */
const held = new Set<string>();

/**
 * Takes `path` for this process and instance: false if another holds it (its `.lock` names a
 * live process, or this process holds it already). A lock left by a dead process is taken over.
 */
function claimFile(path: string): boolean {
  if (held.has(path)) return false;
  const lock = `${path}.lock`;
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (pid !== process.pid && Number.isInteger(pid) && pid > 0 && alive(pid)) return false;
  } catch {
    // no lock (or unreadable: taken over)
  }
  writeFileSync(lock, String(process.pid), { mode: 0o600 });
  held.add(path);
  return true;
}

function releaseFile(path: string): void {
  held.delete(path);
  rmSync(`${path}.lock`, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
