import { mkdir, open, readFile, readdir, rename, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBase64, toBase64 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage, StorageWrite } from '../storage.js';

/** The batch being applied; present only between its commit point and the end of applying. */
const JOURNAL = 'batch.journal';

/** File name endings of text and of binary values. */
const TEXT = '.json';
const BYTES = '.bin';

/** A write as the journal holds it: binary values as base64 under `bytes`. */
interface JournalEntry {
  readonly key: string;
  readonly value?: string;
  readonly bytes?: string;
  readonly secret?: boolean;
}

/**
 * {@link KeyValueStorage} as one file per key under `dir` (created 0700): `<key>.json` for text,
 * `<key>.bin` for bytes (libsignal records). Every value is
 * written to a temporary file, fsync'd and renamed over the target, so a crash never leaves a
 * half-written record; values marked secret are created 0600 (all values are, in fact: the
 * directory holds session state that is as sensitive as keys). A {@link batch} is first written
 * whole to a journal (fsync'd, then renamed into place: the commit point) and then applied; a
 * journal found at start is applied again, so a batch is never half there after a crash.
 */
export class FileStorage implements KeyValueStorage {
  readonly #dir: string;
  #ready: Promise<void> | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await chmod(this.#dir, 0o700);
      await rm(join(this.#dir, `${JOURNAL}.tmp`), { force: true });
      await this.#recover();
    })();
    return this.#ready;
  }

  static #fileName(key: string, ending: string = TEXT): string {
    if (!/^[A-Za-z0-9+._:/@=_-]{1,200}$/.test(key) || key.includes('..')) {
      throw new SwitchboardError('storage-failed', 'storage key has characters not allowed');
    }
    return `${encodeURIComponent(key)}${ending}`;
  }

  get(key: string): Promise<string | undefined> {
    return this.#read(key, TEXT, (file) => readFile(file, 'utf8'));
  }

  getBytes(key: string): Promise<Uint8Array | undefined> {
    return this.#read(key, BYTES, (file) => readFile(file));
  }

  /** Bytes (`<key>.bin`) or else text (`<key>.json`) under `key`, in one call. */
  async getValue(key: string): Promise<string | Uint8Array | undefined> {
    return (await this.getBytes(key)) ?? this.get(key);
  }

  async #read<T>(key: string, ending: string, read: (file: string) => Promise<T>) {
    await this.#init();
    try {
      return await read(join(this.#dir, FileStorage.#fileName(key, ending)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SwitchboardError('storage-failed', 'could not read the key store', { cause: err });
    }
  }

  async set(key: string, value: string): Promise<void> {
    await this.#init();
    await this.#write(key, value);
  }

  async setBytes(key: string, value: Uint8Array): Promise<void> {
    await this.#init();
    await this.#write(key, value);
  }

  async batch(writes: readonly StorageWrite[]): Promise<void> {
    await this.#init();
    for (const w of writes) FileStorage.#fileName(w.key); // refuse bad keys before committing
    const journal = join(this.#dir, JOURNAL);
    try {
      await writeSynced(`${journal}.tmp`, JSON.stringify(writes.map(journalEntry)));
      await rename(`${journal}.tmp`, journal);
    } catch (err) {
      await rm(`${journal}.tmp`, { force: true });
      throw new SwitchboardError('storage-failed', 'could not write the key store', { cause: err });
    }
    // Committed: from here on the batch counts as written. If applying it fails, the next
    // operation applies the journal again before it reads anything.
    try {
      await this.#apply(writes);
      await syncDirectory(this.#dir);
      await rm(journal);
    } catch {
      this.#ready = undefined;
    }
  }

  async #recover(): Promise<void> {
    const journal = join(this.#dir, JOURNAL);
    let text: string;
    try {
      text = await readFile(journal, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await this.#apply((JSON.parse(text) as JournalEntry[]).map(journalWrite));
    await syncDirectory(this.#dir);
    await rm(journal);
  }

  async #apply(writes: readonly StorageWrite[]): Promise<void> {
    await Promise.all(
      writes.map((w) =>
        w.value === undefined ? this.#remove(w.key) : this.#write(w.key, w.value),
      ),
    );
  }

  /** Writes `value` (text or bytes) and removes the key's value of the other kind, if any. */
  async #write(key: string, value: string | Uint8Array): Promise<void> {
    const text = typeof value === 'string';
    const target = join(this.#dir, FileStorage.#fileName(key, text ? TEXT : BYTES));
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await writeSynced(tmp, value);
      await rename(tmp, target);
      await rm(join(this.#dir, FileStorage.#fileName(key, text ? BYTES : TEXT)), { force: true });
    } catch (err) {
      await rm(tmp, { force: true });
      throw new SwitchboardError('storage-failed', 'could not write the key store', { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    await this.#init();
    await this.#remove(key);
  }

  async #remove(key: string): Promise<void> {
    await rm(join(this.#dir, FileStorage.#fileName(key, TEXT)), { force: true });
    await rm(join(this.#dir, FileStorage.#fileName(key, BYTES)), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    await this.#init();
    const keys = new Set<string>();
    for (const n of await readdir(this.#dir)) {
      const ending = [TEXT, BYTES].find((e) => n.endsWith(e));
      if (ending) keys.add(decodeURIComponent(n.slice(0, -ending.length)));
    }
    return [...keys].filter((k) => k.startsWith(prefix));
  }
}

function journalEntry(w: StorageWrite): JournalEntry {
  if (w.value === undefined || typeof w.value === 'string') return w as JournalEntry;
  return { key: w.key, bytes: toBase64(w.value), secret: w.secret };
}

function journalWrite(e: JournalEntry): StorageWrite {
  if (e.bytes === undefined) return { key: e.key, value: e.value, secret: e.secret };
  const bytes = fromBase64(e.bytes);
  if (!bytes) throw new SwitchboardError('storage-failed', 'the batch journal is corrupt');
  return { key: e.key, value: bytes, secret: e.secret };
}

/** Creates `file` (0600) holding `data` (text as UTF-8), on disk before this resolves. */
async function writeSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the renames and removals in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
