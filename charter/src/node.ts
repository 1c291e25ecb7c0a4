// File I/O around the pure core, for the CLI, `npm start` and services that keep a trust list on
// disk. Imported as `@switchboard/charter/node`.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BoardMemberKey, DevelopmentBoard } from './governance/dev.js';
import { createDevelopmentTrustList, reissueDevelopmentTrustList } from './governance/dev.js';
import type { TrustListEdit } from './governance/edit.js';
import {
  addDirectory,
  addProvider,
  setExpiry,
  updateDirectory,
  updateProvider,
} from './governance/edit.js';
import { CharterError } from './trust-list/errors.js';
import { canonicalize } from './trust-list/jcs.js';
import { boardKeyRecord, generateEd25519KeyPair, seedOf } from './trust-list/keys.js';
import { boardFingerprint, loadTrustList, serializeTrustList } from './verify/load.js';
import { parseStrictJson } from './trust-list/strict-json.js';
import type {
  Board,
  DirectoryEntry,
  ProviderEntry,
  SignedTrustList,
  VerifiedTrustList,
} from './trust-list/types.js';
import { verifyTrustList } from './verify/verify.js';

/** Reads and form-checks a trust list file (signatures are checked by verifyTrustList). */
export async function readTrustListFile(path: string): Promise<SignedTrustList> {
  return loadTrustList(await readFile(path));
}

/**
 * Writes `contents` atomically: a temporary file in the same directory, fsync, then rename, so
 * a reader never sees half a list or half a key.
 */
export async function writeFileAtomic(path: string, contents: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(tmp, mode); // the umask may have narrowed or widened `mode` at open
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Writes a trust list file (0644) atomically. */
export async function writeTrustListFile(path: string, envelope: SignedTrustList): Promise<void> {
  await writeFileAtomic(path, serializeTrustList(envelope), 0o644);
}

/** The on-disk form of a private Ed25519 key (board member or provider publishing key). */
interface PrivateKeyFile {
  readonly type: 'switchboard-ed25519-private-key';
  readonly name: string;
  readonly keyid: string;
  readonly publicKey: string;
  /** The 32-byte RFC 8032 private key (seed), base64. */
  readonly seed: string;
}

/**
 * Writes a private key file with mode 0600. Refuses to overwrite an existing file (a lost
 * board key cannot be recovered, so never clobber one).
 */
export async function writePrivateKeyFile(path: string, key: BoardMemberKey): Promise<void> {
  const file: PrivateKeyFile = {
    type: 'switchboard-ed25519-private-key',
    name: key.name,
    keyid: key.keyid,
    publicKey: key.publicKey,
    seed: Buffer.from(seedOf(key.privateKey)).toString('base64'),
  };
  const handle = await open(path, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') {
      throw new CharterError(
        'invalid-edit',
        `${path} already exists; refusing to overwrite a key file`,
      );
    }
    throw err;
  });
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a private key file; refuses one that group or others can read. */
export async function readPrivateKeyFile(path: string): Promise<BoardMemberKey> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new CharterError(
      'invalid-key',
      `${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  const value = parseStrictJson(await readFile(path, 'utf8')) as Partial<PrivateKeyFile> | null;
  if (
    value === null ||
    typeof value !== 'object' ||
    value.type !== 'switchboard-ed25519-private-key' ||
    typeof value.seed !== 'string' ||
    typeof value.name !== 'string'
  ) {
    throw new CharterError('invalid-key', `${path} is not a switchboard private key file`);
  }
  const pair = generateEd25519KeyPair(Buffer.from(value.seed, 'base64'));
  if (pair.keyid !== value.keyid || pair.publicKey !== value.publicKey) {
    throw new CharterError(
      'keyid-mismatch',
      `${path}: the stored public key does not match the private key`,
    );
  }
  return { ...pair, name: value.name };
}

/** Where {@link ensureDevelopmentTrustList} keeps things, under its `dir`. */
export interface DevelopmentTrustListFiles {
  /** `<dir>/trust-list.json` */
  readonly listPath: string;
  /** `<dir>/board/<name>.key`, mode 0600 */
  readonly boardKeyPaths: readonly string[];
  /** `<dir>/board-fingerprint.txt`: what clients of the dev stack pin */
  readonly fingerprintPath: string;
}

/** The development list as found or created on disk. */
export interface DevelopmentTrustListState extends DevelopmentTrustListFiles {
  readonly devBoard: DevelopmentBoard;
  readonly envelope: SignedTrustList;
  readonly verified: VerifiedTrustList;
  /** True if this call created the board and the list. */
  readonly created: boolean;
}

/** What {@link ensureDevelopmentTrustList} needs. */
export interface EnsureDevelopmentTrustListOptions {
  /** Directory to keep the dev board and list in, e.g. `./data/charter`. */
  readonly dir: string;
  readonly now: Date;
  /** Validity of a newly made or re-issued list, in days (default 90). */
  readonly validDays?: number;
}

function devPaths(dir: string, names: readonly string[]): DevelopmentTrustListFiles {
  return {
    listPath: join(dir, 'trust-list.json'),
    boardKeyPaths: names.map((n) => join(dir, 'board', `${n}.key`)),
    fingerprintPath: join(dir, 'board-fingerprint.txt'),
  };
}

/**
 * First run of the embedded stack: makes a development board (3 keys, threshold 2) and a signed,
 * empty version 1 list under `dir`; later runs load them (and re-issue the list, signed by the
 * dev board, if it has expired). Development only: the board's private keys sit next to the list.
 *
 * @example const dev = await ensureDevelopmentTrustList({ dir: join(dataDir, 'charter'), now: new Date() });
 */
export async function ensureDevelopmentTrustList(
  options: EnsureDevelopmentTrustListOptions,
): Promise<DevelopmentTrustListState> {
  const boardDir = join(options.dir, 'board');
  const listPath = join(options.dir, 'trust-list.json');
  const exists = await stat(listPath).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  if (!exists) {
    await mkdir(boardDir, { recursive: true, mode: 0o700 });
    const made = createDevelopmentTrustList({
      now: options.now,
      ...(options.validDays === undefined ? {} : { validDays: options.validDays }),
    });
    const paths = devPaths(
      options.dir,
      made.devBoard.members.map((m) => m.name),
    );
    for (const [i, member] of made.devBoard.members.entries()) {
      const path = paths.boardKeyPaths[i];
      if (path !== undefined) await writePrivateKeyFile(path, member);
    }
    await writeFileAtomic(
      paths.fingerprintPath,
      `${boardFingerprint(made.devBoard.board)}\n`,
      0o644,
    );
    await writeTrustListFile(paths.listPath, made.envelope);
    return { ...paths, ...made, created: true };
  }
  const names = (await readdir(boardDir)).filter((f) => f.endsWith('.key')).sort();
  const members = await Promise.all(names.map((f) => readPrivateKeyFile(join(boardDir, f))));
  const envelope = await readTrustListFile(listPath);
  const devBoard: DevelopmentBoard = {
    members,
    board: envelope.signed.board,
  };
  const fromDisk = {
    threshold: envelope.signed.board.threshold,
    keys: members.map((m) => boardKeyRecord(m, m.name)),
  };
  if (boardFingerprint(fromDisk) !== boardFingerprint(envelope.signed.board)) {
    throw new CharterError(
      'board-mismatch',
      `${listPath} is not signed by the development board in ${boardDir}; remove ${options.dir} to start over`,
    );
  }
  const paths = devPaths(
    options.dir,
    members.map((m) => m.name),
  );
  let current = envelope;
  if (Date.parse(envelope.signed.expires) <= options.now.getTime()) {
    current = reissueDevelopmentTrustList(
      envelope,
      devBoard,
      options.now,
      setExpiry(new Date(options.now.getTime() + (options.validDays ?? 90) * 86_400_000)),
    );
    await writeTrustListFile(listPath, current);
  }
  const verified = verifyTrustList(current, { boardKeys: devBoard.board, now: options.now });
  return { ...paths, devBoard, envelope: current, verified, created: false };
}

/** Entries a part of the embedded stack registers about itself. */
export interface DevelopmentEntries {
  readonly directories?: readonly DirectoryEntry[];
  readonly providers?: readonly ProviderEntry[];
}

/**
 * Adds or updates directories/providers in the development list (creating it if needed) and
 * re-signs it with the development board. Unchanged entries cause no new version. The embedded
 * directory calls this with its apex and DNSSEC anchor, the provider API with its publishing key.
 */
export async function upsertDevelopmentEntries(
  options: EnsureDevelopmentTrustListOptions,
  entries: DevelopmentEntries,
): Promise<DevelopmentTrustListState> {
  const state = await ensureDevelopmentTrustList(options);
  const body = state.envelope.signed;
  const edits: TrustListEdit[] = [];
  for (const d of entries.directories ?? []) {
    const old = body.directories.find((x) => x.id === d.id);
    if (old === undefined) edits.push(addDirectory(d));
    else if (canonicalize({ ...old, status: d.status }) !== canonicalize(d))
      edits.push(updateDirectory(d));
  }
  for (const p of entries.providers ?? []) {
    const old = body.providers.find((x) => x.id === p.id);
    if (old === undefined) edits.push(addProvider(p));
    else if (canonicalize({ ...old, status: p.status }) !== canonicalize(p))
      edits.push(updateProvider(p));
  }
  if (edits.length === 0) return state;
  const next = reissueDevelopmentTrustList(state.envelope, state.devBoard, options.now, ...edits);
  const verified = verifyTrustList(next, { previous: state.verified, now: options.now });
  await writeTrustListFile(state.listPath, next);
  return { ...state, envelope: next, verified, created: state.created };
}

/** Where {@link TrustListSource} reads from and what it trusts. */
export interface TrustListSourceOptions {
  /** The trust list file (replaced atomically by whoever publishes it). */
  readonly path: string;
  /** Root of trust for the first load: the pinned board fingerprint... */
  readonly boardFingerprint?: string;
  /** ...or the pinned board. */
  readonly boardKeys?: Board;
  /**
   * A small file that remembers the highest version accepted, so that rollback protection
   * survives restarts. Without it a restart accepts any version the root of trust signed.
   */
  readonly stateFile?: string;
}

/**
 * A trust list kept on disk, re-read when the file changes and re-verified against the list it
 * replaces (so a board rotation is followed, and a lower version is never taken). If a new file
 * fails verification, the last good list stays in use until it expires and {@link lastError}
 * says why. For services (directory, provider API) and long-running clients.
 *
 * @example
 * const source = new TrustListSource({ path, boardFingerprint, stateFile });
 * const list = await source.load(new Date()); // throws CharterError('expired' | ...) if none usable
 */
export class TrustListSource {
  readonly #options: TrustListSourceOptions;
  #current: VerifiedTrustList | undefined;
  #stamp = '';
  #lastError: CharterError | undefined;

  constructor(options: TrustListSourceOptions) {
    if ((options.boardFingerprint === undefined) === (options.boardKeys === undefined)) {
      throw new CharterError(
        'no-root-of-trust',
        'give exactly one of boardFingerprint or boardKeys',
      );
    }
    this.#options = options;
  }

  /** Why the newest file was not taken (undefined when the file in use is the newest). */
  get lastError(): CharterError | undefined {
    return this.#lastError;
  }

  /** The current verified list at `now`; reads the file again only when it changed. */
  async load(now: Date): Promise<VerifiedTrustList> {
    const info = await stat(this.#options.path);
    const stamp = `${info.mtimeMs}:${info.size}:${info.ino}`;
    if (stamp !== this.#stamp) {
      this.#stamp = stamp;
      await this.#refresh(now);
    }
    const current = this.#current;
    if (current === undefined) {
      throw this.#lastError ?? new CharterError('no-root-of-trust', 'no trust list loaded');
    }
    if (now.getTime() >= current.expires.getTime()) {
      throw new CharterError(
        'expired',
        `trust list version ${current.version} expired at ${current.body.expires}; the board must publish a current list`,
      );
    }
    return current;
  }

  async #refresh(now: Date): Promise<void> {
    try {
      const bytes = await readFile(this.#options.path);
      const lastSeenVersion = await this.#readState();
      const root =
        this.#current !== undefined
          ? { previous: this.#current }
          : this.#options.boardFingerprint !== undefined
            ? { boardFingerprint: this.#options.boardFingerprint }
            : { boardKeys: this.#options.boardKeys as Board };
      const verified = verifyTrustList(bytes, {
        now,
        ...root,
        ...(lastSeenVersion === undefined ? {} : { lastSeenVersion }),
      });
      this.#current = verified;
      this.#lastError = undefined;
      if (this.#options.stateFile !== undefined && verified.version !== lastSeenVersion) {
        await writeFileAtomic(
          this.#options.stateFile,
          `${JSON.stringify({ lastSeenVersion: verified.version, digest: verified.digest })}\n`,
          0o644,
        );
      }
    } catch (err) {
      if (!CharterError.is(err)) throw err;
      this.#lastError = err;
    }
  }

  async #readState(): Promise<number | undefined> {
    if (this.#options.stateFile === undefined) return undefined;
    try {
      const value = parseStrictJson(await readFile(this.#options.stateFile, 'utf8')) as {
        lastSeenVersion?: unknown;
      } | null;
      const v = value?.lastSeenVersion;
      return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
