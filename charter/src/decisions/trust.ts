// Trust decisions from a verified list (directories, providers). No Node built-ins; the
// directory's publisher decision, which hands out node:crypto keys, is trust-publisher.ts.
import { CharterError } from '../trust-list/errors.js';
import type { DirectoryEntry, ProviderEntry, VerifiedTrustList } from '../trust-list/types.js';

/** Why a directory or provider is not trusted now. */
export type DistrustReason =
  | 'not-listed'
  | 'suspended'
  | 'revoked'
  | 'list-expired'
  | 'not-yet-accredited'
  | 'accreditation-ended';

/** The answer to "may I trust X now?": the entry when yes, a reason and a message when no. */
export type TrustDecision<T> =
  | { readonly trusted: true; readonly entry: T }
  | {
      readonly trusted: false;
      readonly reason: DistrustReason;
      readonly message: string;
      /** The entry, when it is listed but not trusted (to show its status to a user). */
      readonly entry?: T;
    };

/** For trust-publisher.ts. */
export function listExpired<T>(list: VerifiedTrustList, now: Date): TrustDecision<T> | undefined {
  if (now.getTime() >= list.expires.getTime()) {
    return {
      trusted: false,
      reason: 'list-expired',
      message: `trust list version ${list.version} expired at ${list.body.expires}; fetch a current list`,
    };
  }
  return undefined;
}

function byStatus<T extends { readonly status: string; readonly id: string }>(
  kind: string,
  entry: T,
): TrustDecision<T> | undefined {
  if (entry.status === 'suspended' || entry.status === 'revoked') {
    return {
      trusted: false,
      reason: entry.status,
      message: `${kind} "${entry.id}" is ${entry.status} by the board`,
      entry,
    };
  }
  return undefined;
}

/**
 * May a client or service rely on directory `id` at `now`? Only an `active` directory of an
 * unexpired list is trusted.
 *
 * @example const d = mayTrustDirectory(list, 'dir-eu', new Date()); if (!d.trusted) throw ...
 */
export function mayTrustDirectory(
  list: VerifiedTrustList,
  id: string,
  now: Date,
): TrustDecision<DirectoryEntry> {
  const expired = listExpired<DirectoryEntry>(list, now);
  if (expired !== undefined) return expired;
  const entry = list.body.directories.find((d) => d.id === id);
  if (entry === undefined) {
    return {
      trusted: false,
      reason: 'not-listed',
      message: `directory "${id}" is not in the trust list`,
    };
  }
  return byStatus('directory', entry) ?? { trusted: true, entry };
}

/**
 * May a client or service rely on provider `id` at `now`? Only an `active` provider inside its
 * accreditation window, in an unexpired list, is trusted.
 */
export function mayTrustProvider(
  list: VerifiedTrustList,
  id: string,
  now: Date,
): TrustDecision<ProviderEntry> {
  const expired = listExpired<ProviderEntry>(list, now);
  if (expired !== undefined) return expired;
  const entry = list.body.providers.find((p) => p.id === id);
  if (entry === undefined) {
    return {
      trusted: false,
      reason: 'not-listed',
      message: `provider "${id}" is not in the trust list`,
    };
  }
  return providerDecision(entry, now);
}

/** For trust-publisher.ts. */
export function providerDecision(entry: ProviderEntry, now: Date): TrustDecision<ProviderEntry> {
  const status = byStatus('provider', entry);
  if (status !== undefined) return status;
  const t = now.getTime();
  if (t < Date.parse(entry.accreditation.notBefore)) {
    return {
      trusted: false,
      reason: 'not-yet-accredited',
      message: `provider "${entry.id}" is accredited only from ${entry.accreditation.notBefore}`,
      entry,
    };
  }
  if (t >= Date.parse(entry.accreditation.notAfter)) {
    return {
      trusted: false,
      reason: 'accreditation-ended',
      message: `provider "${entry.id}"'s accreditation ended at ${entry.accreditation.notAfter}`,
      entry,
    };
  }
  return { trusted: true, entry };
}

/** Throws `not-trusted` unless {@link mayTrustDirectory} says yes; returns the entry. */
export function assertMayTrustDirectory(
  list: VerifiedTrustList,
  id: string,
  now: Date,
): DirectoryEntry {
  return unwrap(mayTrustDirectory(list, id, now));
}

/** Throws `not-trusted` unless {@link mayTrustProvider} says yes; returns the entry. */
export function assertMayTrustProvider(
  list: VerifiedTrustList,
  id: string,
  now: Date,
): ProviderEntry {
  return unwrap(mayTrustProvider(list, id, now));
}

function unwrap<T>(decision: TrustDecision<T>): T {
  if (decision.trusted) return decision.entry;
  throw new CharterError(
    decision.reason === 'list-expired' ? 'expired' : 'not-trusted',
    decision.message,
  );
}

/** Active directories of the list, in list order (what a client may query). */
export function activeDirectories(list: VerifiedTrustList, now: Date): DirectoryEntry[] {
  return list.body.directories.filter((d) => mayTrustDirectory(list, d.id, now).trusted);
}
