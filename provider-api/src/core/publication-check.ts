import type { ResourceRecord } from '@switchboard/dns-wire';
import { RRType, isRecordType } from '@switchboard/dns-wire';
import { nodeDnssecCrypto } from '@switchboard/dnssec';
import type { DirectoryEntry, VerifiedTrustList } from '@switchboard/charter';
import { mayTrustDirectory } from '@switchboard/charter';
import type { DnsTransport } from '@switchboard/enum-lookup';
import { readEntry } from '@switchboard/enum-lookup';
import { SocketDnsTransport } from '@switchboard/enum-lookup/node';

/**
 * What a published entry looks like from outside, checked as a client checks it: asked of the
 * directory's nameservers in the trust list, DNSSEC validated here up to the list's anchor
 * (never a resolver's AD bit), and compared with the account's identity key.
 */
export type PublicationCheck =
  | {
      readonly status: 'secure';
      readonly directoryId: string;
      readonly apex: string;
      readonly trustListVersion: number;
      readonly checkedAt: string;
    }
  /** Not (yet) in the signed zone, or still the previous key: publishing takes a moment. */
  | { readonly status: 'pending'; readonly detail: string; readonly checkedAt: string }
  /** The answer failed validation: an attack or a broken directory. */
  | { readonly status: 'bogus'; readonly detail: string; readonly checkedAt: string }
  /** No trust list, no directory in it, or no nameserver answered. */
  | { readonly status: 'unavailable'; readonly detail: string; readonly checkedAt: string };

/**
 * DNS over TCP only (RFC 7766: no truncation), whatever protocol is asked: the provider asks
 * the directory's nameservers from a server, where TCP is the sure way.
 */
export const tcpDns: DnsTransport = new SocketDnsTransport({ tcpOnly: true });

/** The identity key (`k=`) of the entry's `sbkey1` TXT record, base64, if there is one. */
function publishedKey(rrset: readonly ResourceRecord[]): string | undefined {
  for (const rr of rrset) {
    if (!isRecordType(rr, RRType.TXT)) continue;
    const text = Buffer.concat(rr.data.texts.map((t) => Buffer.from(t))).toString('utf8');
    if (/^v=sbkey1(;|$)/.test(text)) return /(?:^|;) *k=([^;]+)/.exec(text)?.[1];
  }
  return undefined;
}

/** Inputs of {@link checkPublication}. */
export interface PublicationCheckInput {
  readonly list: VerifiedTrustList;
  readonly number: string;
  /** The account's identity key as published (base64 of the libsignal serialized key). */
  readonly identityKey: string;
  readonly now: Date;
  readonly timeoutMs?: number;
}

/**
 * Checks that the directories of the trust list serve `number` with `identityKey`, DNSSEC
 * validated from the list's anchor: the first directory that serves it decides.
 */
export async function checkPublication(input: PublicationCheckInput): Promise<PublicationCheck> {
  const checkedAt = input.now.toISOString();
  const directories = input.list.body.directories.filter(
    (d) => mayTrustDirectory(input.list, d.id, input.now).trusted,
  );
  if (directories.length === 0) {
    return { status: 'unavailable', detail: 'the trust list names no directory', checkedAt };
  }
  let last: PublicationCheck = {
    status: 'unavailable',
    detail: 'no directory nameserver answered',
    checkedAt,
  };
  for (const dir of directories) {
    for (const server of dir.nameservers) {
      try {
        const result = await checkAt(dir, server, input);
        if (result.status !== 'pending') return result;
        last = result;
      } catch (err) {
        if (last.status === 'unavailable') {
          last = { status: 'unavailable', detail: (err as Error).message, checkedAt };
        }
      }
    }
  }
  return last;
}

async function checkAt(
  dir: DirectoryEntry,
  server: string,
  input: PublicationCheckInput,
): Promise<PublicationCheck> {
  const checkedAt = input.now.toISOString();
  const entry = await readEntry(dir, input.number, [RRType.TXT], {
    dns: tcpDns,
    crypto: nodeDnssecCrypto,
    now: input.now,
    nameservers: [server],
    timeoutMs: input.timeoutMs ?? 3000,
  });
  if (entry.status === 'bogus') {
    const part = entry.part === 'zone keys' ? 'zone keys' : 'identity key record';
    return { status: 'bogus', detail: `${part}: ${entry.reason}`, checkedAt };
  }
  if (entry.status === 'denied') {
    return { status: 'pending', detail: 'not in the signed zone yet', checkedAt };
  }
  if (publishedKey(entry.rrsets[0] ?? []) !== input.identityKey) {
    return { status: 'pending', detail: 'the zone still serves another key', checkedAt };
  }
  return {
    status: 'secure',
    directoryId: dir.id,
    apex: entry.apex,
    trustListVersion: input.list.version,
    checkedAt,
  };
}

/**
 * {@link checkPublication} for the running service: the verified trust list read on each check,
 * one answer per number kept for `reuseMs` (the onboarding page polls; a check costs DNS
 * queries), at most `maxEntries` numbers remembered.
 */
export class PublicationChecker {
  readonly #loadList: (now: Date) => Promise<VerifiedTrustList | undefined>;
  readonly #now: () => number;
  readonly #reuseMs: number;
  readonly #maxEntries: number;
  readonly #recent = new Map<string, { at: number; key: string; check: PublicationCheck }>();

  constructor(options: {
    readonly loadList: (now: Date) => Promise<VerifiedTrustList | undefined>;
    readonly now: () => number;
    readonly reuseMs?: number;
    readonly maxEntries?: number;
  }) {
    this.#loadList = options.loadList;
    this.#now = options.now;
    this.#reuseMs = options.reuseMs ?? 1500;
    this.#maxEntries = options.maxEntries ?? 1000;
  }

  /** How `number` with `identityKey` (base64) looks from outside now. */
  async check(number: string, identityKey: string): Promise<PublicationCheck> {
    const at = this.#now();
    const kept = this.#recent.get(number);
    if (kept && kept.key === identityKey && at - kept.at < this.#reuseMs) return kept.check;
    const now = new Date(at);
    const list = await this.#loadList(now).catch(() => undefined);
    const check: PublicationCheck = list
      ? await checkPublication({ list, number, identityKey, now })
      : {
          status: 'unavailable',
          detail: 'this provider has no verified trust list',
          checkedAt: now.toISOString(),
        };
    if (this.#recent.size >= this.#maxEntries) this.#recent.clear();
    this.#recent.set(number, { at, key: identityKey, check });
    return check;
  }
}
