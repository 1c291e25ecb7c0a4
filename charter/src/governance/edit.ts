import { CharterError } from '../trust-list/errors.js';
import { loadTrustList } from '../verify/load.js';
import type {
  Board,
  DirectoryEntry,
  EntryStatus,
  ProviderEntry,
  SignedTrustList,
  Timestamp,
  TrustListBody,
} from '../trust-list/types.js';

/** An RFC 3339 UTC timestamp at whole seconds, as the list stores them. */
export function toTimestamp(date: Date): Timestamp {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** What a first list needs. */
export interface NewTrustListInput {
  readonly board: Board;
  readonly now: Date;
  readonly expires: Date;
  readonly version?: number;
  readonly directories?: readonly DirectoryEntry[];
  readonly providers?: readonly ProviderEntry[];
}

/** A new, unsigned list (checked like any loaded one). */
export function createTrustList(input: NewTrustListInput): SignedTrustList {
  const body: TrustListBody = {
    type: 'switchboard-trust-list',
    specVersion: 1,
    version: input.version ?? 1,
    issuedAt: toTimestamp(input.now),
    expires: toTimestamp(input.expires),
    board: input.board,
    directories: input.directories ?? [],
    providers: input.providers ?? [],
  };
  // Drafts pass the same schema and rules as a loaded list, so no tool can sign a malformed one.
  return loadTrustList({ signed: body, signatures: [] });
}

/** A change to a list body. */
export type TrustListEdit = (body: TrustListBody) => TrustListBody;

/**
 * Applies edits and returns the next unsigned draft. A published (signed) list gets version + 1
 * and a fresh `issuedAt`; an unsigned draft keeps its version, so several edits before signing
 * make one new version. Signatures are always dropped: they were over the old contents.
 */
export function draftNextVersion(
  envelope: SignedTrustList,
  now: Date,
  ...edits: readonly TrustListEdit[]
): SignedTrustList {
  const published = envelope.signatures.length > 0;
  let body: TrustListBody = {
    ...envelope.signed,
    version: published ? envelope.signed.version + 1 : envelope.signed.version,
    issuedAt: toTimestamp(now),
  };
  for (const edit of edits) body = edit(body);
  return loadTrustList({ signed: body, signatures: [] });
}

/** Sets a new expiry (a list must be re-issued before it expires). */
export function setExpiry(expires: Date): TrustListEdit {
  return (body) => ({ ...body, expires: toTimestamp(expires) });
}

/** Replaces the board: a rotation, which the old and the new board must both sign. */
export function setBoard(board: Board): TrustListEdit {
  return (body) => ({ ...body, board });
}

/** Adds a directory; refuses an id that is already listed. */
export function addDirectory(entry: DirectoryEntry): TrustListEdit {
  return (body) => {
    if (body.directories.some((d) => d.id === entry.id)) {
      throw new CharterError('invalid-edit', `directory "${entry.id}" is already listed`);
    }
    return { ...body, directories: [...body.directories, entry] };
  };
}

/** Adds a provider; refuses an id that is already listed. */
export function addProvider(entry: ProviderEntry): TrustListEdit {
  return (body) => {
    if (body.providers.some((p) => p.id === entry.id)) {
      throw new CharterError('invalid-edit', `provider "${entry.id}" is already listed`);
    }
    return { ...body, providers: [...body.providers, entry] };
  };
}

/** Replaces a listed directory's details (not its status: use {@link setDirectoryStatus}). */
export function updateDirectory(entry: DirectoryEntry): TrustListEdit {
  return (body) => {
    const old = findOrFail(body.directories, 'directory', entry.id);
    refuseRevoked('directory', old);
    return {
      ...body,
      directories: body.directories.map((d) =>
        d.id === entry.id ? { ...entry, status: old.status } : d,
      ),
    };
  };
}

/** Replaces a listed provider's details (not its status: use {@link setProviderStatus}). */
export function updateProvider(entry: ProviderEntry): TrustListEdit {
  return (body) => {
    const old = findOrFail(body.providers, 'provider', entry.id);
    refuseRevoked('provider', old);
    return {
      ...body,
      providers: body.providers.map((p) =>
        p.id === entry.id ? { ...entry, status: old.status } : p,
      ),
    };
  };
}

/** Suspends, revokes or reactivates a directory. Revocation is final. */
export function setDirectoryStatus(
  id: string,
  status: EntryStatus,
  reason?: string,
): TrustListEdit {
  return (body) => {
    const old = findOrFail(body.directories, 'directory', id);
    refuseRevoked('directory', old);
    return {
      ...body,
      directories: body.directories.map((d) => (d.id === id ? withStatus(d, status, reason) : d)),
    };
  };
}

/** Suspends, revokes or reactivates a provider. Revocation is final. */
export function setProviderStatus(id: string, status: EntryStatus, reason?: string): TrustListEdit {
  return (body) => {
    const old = findOrFail(body.providers, 'provider', id);
    refuseRevoked('provider', old);
    return {
      ...body,
      providers: body.providers.map((p) => (p.id === id ? withStatus(p, status, reason) : p)),
    };
  };
}

function withStatus<T extends { readonly status: EntryStatus; readonly statusReason?: string }>(
  entry: T,
  status: EntryStatus,
  reason: string | undefined,
): T {
  const { statusReason: _old, ...rest } = entry;
  return (
    reason === undefined ? { ...rest, status } : { ...rest, status, statusReason: reason }
  ) as T;
}

function findOrFail<T extends { readonly id: string }>(
  list: readonly T[],
  kind: string,
  id: string,
): T {
  const found = list.find((e) => e.id === id);
  if (found === undefined) throw new CharterError('invalid-edit', `${kind} "${id}" is not listed`);
  return found;
}

function refuseRevoked(
  kind: string,
  entry: { readonly id: string; readonly status: EntryStatus },
): void {
  if (entry.status === 'revoked') {
    throw new CharterError(
      'invalid-edit',
      `${kind} "${entry.id}" is revoked; revocation is final (accredit it again under a new id)`,
    );
  }
}
