import { mkdir, open, readFile, readdir, rename, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage } from '../storage.js';

/**
 * {@link KeyValueStorage} as one JSON file per key under `dir` (created 0700). Every value is
 * written to a temporary file, fsync'd and renamed over the target, so a crash never leaves a
 * half-written record; values marked secret are created 0600 (all values are, in fact: the
 * directory holds session state that is as sensitive as keys).
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
    const target = join(this.#dir, FileStorage.#fileName(key));
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(value, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
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
