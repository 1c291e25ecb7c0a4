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

/** What one lookup of a name finds: the entry's serial and, if kept, the answer asked for. */
export interface ImageHit {
  serial: number;
  renewAt: number;
  bytes: Uint8Array | undefined;
}

/** Bumped when the tables change shape: an image of another format is made anew. */
const FORMAT = '2';
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
  renew_at INTEGER NOT NULL, bytes BLOB NOT NULL,
  PRIMARY KEY (digits, qtype, dnssec)) WITHOUT ROWID;
`;

/**
 * The zone's numbers in a local SQLite file (`<data>/zone-image.db`), read synchronously by the
 * DNS path: one row per number keyed by its digits, and the encoded answers made for them
 * (signatures included, each with the time it is to be renewed), so that neither memory nor
 * start-up grows with the zone, and a restart keeps the signatures it made. It follows the
 * store by serial (zone-state.ts): `token` names the database it was made from, `serial` the
 * zone content it holds. An in-memory image (`:memory:`) serves tests and stores without a data
 * directory.
 */
export class ZoneImage {
  readonly #db: SQLite.Database;
  readonly #path: string;
  readonly #find: SQLite.Statement;
  readonly #row: SQLite.Statement;
  readonly #putAnswer: SQLite.Statement;
  readonly #pending: Array<[string, number, number, number, Uint8Array]> = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #count: number;
  #serial: number | undefined;
  #token: string | undefined;
  /** Bumped whenever the entries are replaced whole ({@link rebuild}). */
  #generation = 0;

  private constructor(db: SQLite.Database, path: string) {
    this.#db = db;
    this.#path = path;
    this.#find = db
      .prepare(
        `SELECT e.serial, a.renew_at, a.bytes FROM names e LEFT JOIN answers a
         ON a.digits = e.digits AND a.qtype = ? AND a.dnssec = ? WHERE e.digits = ?`,
      )
      .raw();
    this.#row = db
      .prepare('SELECT serial, provider, identity_key, contacts FROM entries WHERE digits = ?')
      .raw();
    this.#putAnswer = db.prepare('INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)');
    this.#count = Number(this.#meta('count') ?? 0);
    const serial = this.#meta('serial');
    this.#serial = serial === undefined ? undefined : Number(serial);
    this.#token = this.#meta('token');
  }

  /**
   * Opens the first image of `paths` no other directory (process, or instance in this process)
   * holds, or an in-memory one when all are held: replicas sharing a data directory each keep
   * their own. `answersFor` as {@link open}.
   */
  static claim(paths: readonly string[], answersFor: string): ZoneImage {
    for (const path of paths) {
      if (!claimFile(path)) continue;
      try {
        return ZoneImage.open(path, answersFor);
      } catch (err) {
        releaseFile(path);
        throw err;
      }
    }
    return ZoneImage.open(':memory:', answersFor);
  }

  /**
   * Opens (or creates) the image at `path`. `answersFor` names what kept answers depend on
   * (apex, TTLs, key): when it differs from the image's, the kept answers are dropped.
   */
  static open(path: string, answersFor: string): ZoneImage {
    if (path === ':memory:') return ZoneImage.#open(path, answersFor);
    try {
      return ZoneImage.#open(path, answersFor);
    } catch {
      // Unreadable, or a fill was interrupted (fillFromSqlite): made anew.
      for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
      return ZoneImage.#open(path, answersFor);
    }
  }

  static #open(path: string, answersFor: string): ZoneImage {
    const db = new SQLite(path);
    db.pragma('journal_mode = WAL');
    // Losing the last writes in a crash is harmless: the image catches up from the store.
    db.pragma('synchronous = OFF');
    db.pragma(`cache_size = ${-CACHE_KIB}`);
    db.exec(SCHEMA);
    const get = (k: string): string | undefined =>
      (db.prepare('SELECT v FROM meta WHERE k = ?').pluck().get(k) as string | undefined) ??
      undefined;
    if (get('filling') !== undefined) {
      db.close();
      throw new Error('an interrupted fill');
    }
    const set = db.prepare('INSERT OR REPLACE INTO meta VALUES (?, ?)');
    if (get('format') !== FORMAT) {
      db.exec('DELETE FROM names; DELETE FROM entries; DELETE FROM answers; DELETE FROM meta;');
      set.run('format', FORMAT);
    }
    if (get('answers-for') !== answersFor) {
      db.exec("DELETE FROM answers; DELETE FROM meta WHERE k = 'warm'");
      set.run('answers-for', answersFor);
    }
    return new ZoneImage(db, path);
  }

  /** The zone serial whose content the image holds; undefined before it was first filled. */
  get serial(): number | undefined {
    return this.#serial;
  }

  /** The token of the store the image was filled from. */
  get token(): string | undefined {
    return this.#token;
  }

  /** Numbers held. */
  get count(): number {
    return this.#count;
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
    this.#db.prepare("INSERT OR REPLACE INTO meta VALUES ('warm', '1')").run();
  }

  /** Up to `limit` numbers (digits) after `after`, in order. */
  digitsAfter(after: string, limit: number): string[] {
    return this.#db
      .prepare('SELECT digits FROM names WHERE digits > ? ORDER BY digits LIMIT ?')
      .pluck()
      .all(after, limit) as string[];
  }

  /**
   * Looks `digits` up: undefined if no such number, else its entry serial and the answer kept
   * for `qtype` with or without DNSSEC (`bytes` undefined when none is kept). Fills `hit`.
   */
  find(digits: string, qtype: number, dnssec: boolean, hit: ImageHit): ImageHit | undefined {
    const row = this.#find.get(qtype, dnssec ? 1 : 0, digits) as
      [number, number | null, Uint8Array | null] | undefined;
    if (!row) return undefined;
    hit.serial = row[0];
    hit.renewAt = row[1] ?? 0;
    hit.bytes = row[2] ?? undefined;
    return hit;
  }

  /** The entry of `digits`, if held. */
  entry(digits: string): ImageEntry | undefined {
    const row = this.#row.get(digits) as [number, string, string, string] | undefined;
    if (!row) return undefined;
    const [serial, provider, identityKey, contacts] = row;
    return { digits, serial, provider, identityKey, contacts };
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
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, all ? this.#pending.length : FLUSH_BATCH);
    if (this.#pending.length > 0) this.#flushTimer = setTimeout(() => this.flush(false), 1).unref();
    // Every pending answer is for the entries held now: apply() and rebuild() flush first.
    this.#db.transaction(() => {
      for (const [digits, qtype, dnssec, renewAt, bytes] of batch) {
        this.#putAnswer.run(digits, qtype, dnssec, renewAt, bytes);
      }
    })();
  }

  /**
   * Applies one step of the store's history in one transaction: the `changed` entries (new or
   * replaced) and the `removed` numbers (digits; removals first, so a number removed and
   * published again is kept), to the content of `serial`. Kept answers of every number
   * touched are dropped.
   */
  apply(
    serial: number,
    changed: readonly ImageEntry[],
    removed: readonly string[],
    token: string,
  ): void {
    this.flush();
    const db = this.#db;
    const del = db.prepare('DELETE FROM entries WHERE digits = ?');
    const delName = db.prepare('DELETE FROM names WHERE digits = ?');
    const putName = db.prepare('INSERT OR REPLACE INTO names VALUES (?, ?)');
    const delAnswers = db.prepare('DELETE FROM answers WHERE digits = ?');
    const has = db.prepare('SELECT 1 FROM names WHERE digits = ?');
    const put = db.prepare('INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
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
    })();
  }

  /**
   * Starts filling the image anew (a first start, or a store too far ahead to catch up with):
   * rows go into a table of their own, which {@link ImageBuild.finish} puts in place of the
   * entries in one step, so the DNS path reads the old content until then.
   */
  rebuild(): ImageBuild {
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
      add: (rows) => add(rows),
      finish: (serial, token, added = count) => {
        this.flush();
        const before = this.#token === token ? (this.#serial ?? -1) : -1;
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
          this.#setMeta({ serial, count: added, token });
          db.exec("DELETE FROM meta WHERE k = 'warm'");
        })();
        this.#generation += 1;
      },
    };
  }

  /**
   * Fills the image anew straight from the directory's SQLite store file `storeFile` (the
   * `directory_numbers` and `directory_zone` tables), in one statement inside one read of it:
   * SQLite copies the rows itself, about ten times faster than reading them through the store.
   * Blocks until done: for a first start, before anything is served. Returns the serial copied.
   * A fill interrupted leaves a mark that makes the next {@link open} start the file anew.
   */
  fillFromSqlite(storeFile: string, token: string): number {
    this.flush();
    const db = this.#db;
    const build = this.rebuild();
    const file = this.#path !== ':memory:';
    if (file) db.prepare("INSERT OR REPLACE INTO meta VALUES ('filling', '1')").run();
    db.prepare('ATTACH DATABASE ? AS store').run(storeFile);
    try {
      const serial = db.transaction(() => {
        const held = db
          .prepare('SELECT serial FROM store.directory_zone WHERE id = 1')
          .pluck()
          .get();
        if (held === undefined) throw new Error('the store has no zone serial');
        db.exec(
          `INSERT INTO entries_next SELECT substr(number, 2), serial, provider, identity_key,
           contacts FROM store.directory_numbers ORDER BY number`,
        );
        return Number(held);
      })();
      const count = db.prepare('SELECT count(*) FROM entries_next').pluck().get() as number;
      build.finish(serial, token, count);
      db.exec('DETACH DATABASE store');
      if (file) db.prepare("DELETE FROM meta WHERE k = 'filling'").run();
      return serial;
    } catch (err) {
      db.exec('DETACH DATABASE store');
      throw err;
    }
  }

  /**
   * Every entry in digit order, as held now, read on a connection of its own in one read
   * transaction (changes applied meanwhile are not seen), so a transfer can read it across many
   * turns of the event loop. The in-memory image is read whole at once. Throws if the image no
   * longer holds the content of `serial` (when given) by the time reading starts.
   */
  *entries(serial?: number): Generator<ImageEntry> {
    const sql =
      'SELECT digits, serial, provider, identity_key, contacts FROM entries ORDER BY digits';
    const memory = this.#path === ':memory:';
    const reader = memory ? this.#db : new SQLite(this.#path, { readonly: true });
    try {
      if (!memory) reader.exec('BEGIN');
      const held = reader.prepare("SELECT v FROM meta WHERE k = 'serial'").pluck().get();
      if (serial !== undefined && Number(held) !== serial) {
        throw new Error(`the zone image moved on from serial ${serial}`);
      }
      const stmt = reader.prepare(sql).raw();
      const rows = memory ? stmt.all()[Symbol.iterator]() : stmt.iterate();
      for (const row of rows as Iterable<[string, number, string, string, string]>) {
        const [digits, serial, provider, identityKey, contacts] = row;
        yield { digits, serial, provider, identityKey, contacts };
      }
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
      if (this.#path !== ':memory:') releaseFile(this.#path);
    }
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

/** An image being filled anew ({@link ZoneImage.rebuild}). */
export interface ImageBuild {
  /** Adds rows (in one transaction). */
  add(rows: readonly ImageEntry[]): void;
  /**
   * Puts the rows added in place of the entries, as the content of `serial`; `count`: how many
   * rows the new table holds, when added otherwise than by {@link add}.
   */
  finish(serial: number, token: string, count?: number): void;
}

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
