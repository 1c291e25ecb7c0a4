import { mkdir, open, readFile, readdir, rename, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage, StorageWrite } from '../storage.js';

/** The batch being applied; present only between its commit point and the end of applying. */
const JOURNAL = 'batch.journal';

/**
 * {@link KeyValueStorage} as one JSON file per key under `dir` (created 0700). Every value is
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

  static #fileName(key: string): string {
    if (!/^[A-Za-z0-9+._:/@=_-]{1,200}$/.test(key) || key.includes('..')) {
      throw new SwitchboardError('storage-failed', 'storage key has characters not allowed');
    }
    return `${encodeURIComponent(key)}.json`;
  }

  async get(key: string): Promise<string | undefined> {
    await this.#init();
    try {
      return await readFile(join(this.#dir, FileStorage.#fileName(key)), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SwitchboardError('storage-failed', 'could not read the key store', { cause: err });
    }
  }

  async set(key: string, value: string): Promise<void> {
    await this.#init();
    await this.#write(key, value);
  }

  async batch(writes: readonly StorageWrite[]): Promise<void> {
    await this.#init();
    for (const w of writes) FileStorage.#fileName(w.key); // refuse bad keys before committing
    const journal = join(this.#dir, JOURNAL);
    try {
      await writeSynced(`${journal}.tmp`, JSON.stringify(writes));
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
    await this.#apply(JSON.parse(text) as StorageWrite[]);
    await syncDirectory(this.#dir);
    await rm(journal);
  }

  async #apply(writes: readonly StorageWrite[]): Promise<void> {
    await Promise.all(
      writes.map((w) =>
        w.value === undefined
          ? rm(join(this.#dir, FileStorage.#fileName(w.key)), { force: true })
          : this.#write(w.key, w.value),
      ),
    );
  }

  async #write(key: string, value: string): Promise<void> {
    const target = join(this.#dir, FileStorage.#fileName(key));
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await writeSynced(tmp, value);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new SwitchboardError('storage-failed', 'could not write the key store', { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    await this.#init();
    await rm(join(this.#dir, FileStorage.#fileName(key)), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    await this.#init();
    const names = await readdir(this.#dir);
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => decodeURIComponent(n.slice(0, -5)))
      .filter((k) => k.startsWith(prefix));
  }
}

/** Creates `file` (0600) holding `text`, on disk before this resolves. */
async function writeSynced(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
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
