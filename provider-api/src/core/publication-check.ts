import { connect } from 'node:net';
import type { DsData, Message, ResourceRecord } from '@switchboard/dns-wire';
import { RRType, Rcode, decodeMessage, encodeMessage, isRecordType } from '@switchboard/dns-wire';
import type { TrustAnchor } from '@switchboard/dnssec';
import { validateDnskeyRrset, validateResponse } from '@switchboard/dnssec';
import type { DirectoryEntry, VerifiedTrustList } from '@switchboard/charter';
import { mayTrustDirectory } from '@switchboard/charter';
import { enumNameFor } from '@switchboard/e164';

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

/** One DNS question over TCP (RFC 7766: no truncation), answered within `timeoutMs`. */
export function dnsQueryTcp(
  server: string,
  qname: string,
  qtype: number,
  timeoutMs: number,
): Promise<Message> {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(server) ?? /^([^:]+):(\d+)$/.exec(server);
  if (!m) return Promise.reject(new Error('a nameserver must be written host:port'));
  const id = Math.floor(Math.random() * 0x10000);
  const query = encodeMessage({
    id,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: true,
    rcode: Rcode.NOERROR,
    questions: [{ name: qname, type: qtype, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true, options: [] },
  });
  return new Promise((resolve, reject) => {
    const socket = connect({ host: m[1]!, port: Number(m[2]) });
    let buf = Buffer.alloc(0);
    const finish = (err: Error | undefined, msg?: Message): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(msg!);
    };
    const timer = setTimeout(() => finish(new Error('the nameserver did not answer')), timeoutMs);
    socket.on('error', () => finish(new Error('the nameserver refused the connection')));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < buf.readUInt16BE(0) + 2) return;
      try {
        const answer = decodeMessage(new Uint8Array(buf.subarray(2, buf.readUInt16BE(0) + 2)));
        if (answer.id !== id || !answer.qr) throw new Error('mismatched');
        finish(undefined, answer);
      } catch {
        finish(new Error('the nameserver sent an answer that does not match the question'));
      }
    });
    socket.on('end', () => finish(new Error('the nameserver closed the connection early')));
  });
}

/** The trust anchor the list gives for a directory (DS records, or DNSKEYs). */
export function anchorFor(dir: DirectoryEntry): TrustAnchor {
  const ds: DsData[] = [];
  const dnskeys: { flags: number; protocol: number; algorithm: number; publicKey: Uint8Array }[] =
    [];
  for (const a of dir.trustAnchors) {
    if (a.type === 'DS') {
      ds.push({
        keyTag: a.keyTag,
        algorithm: a.algorithm,
        digestType: a.digestType,
        digest: new Uint8Array(Buffer.from(a.digest, 'hex')),
      });
    } else {
      const publicKey = new Uint8Array(Buffer.from(a.publicKey, 'base64'));
      dnskeys.push({ flags: a.flags, protocol: a.protocol, algorithm: a.algorithm, publicKey });
    }
  }
  return ds.length > 0 ? { zone: dir.apex, ds } : { zone: dir.apex, dnskeys };
}

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
  const apex = dir.apex.endsWith('.') ? dir.apex : `${dir.apex}.`;
  const timeout = input.timeoutMs ?? 3000;
  const anchor = anchorFor(dir);
  const dnskeyRrset = (await dnsQueryTcp(server, apex, RRType.DNSKEY, timeout)).answers;
  const keys = validateDnskeyRrset(anchor, dnskeyRrset, input.now);
  if (keys.status === 'bogus') {
    return { status: 'bogus', detail: `zone keys: ${keys.reason}`, checkedAt };
  }
  const qname = enumNameFor(input.number, apex);
  const response = await dnsQueryTcp(server, qname, RRType.TXT, timeout);
  const result = validateResponse({
    trustAnchor: anchor,
    dnskeyRrset,
    response,
    qname,
    qtype: RRType.TXT,
    now: input.now,
  });
  if (result.status === 'bogus') {
    return { status: 'bogus', detail: `identity key record: ${result.reason}`, checkedAt };
  }
  if (result.status !== 'secure') {
    return { status: 'pending', detail: 'not in the signed zone yet', checkedAt };
  }
  if (publishedKey(result.rrset) !== input.identityKey) {
    return { status: 'pending', detail: 'the zone still serves another key', checkedAt };
  }
  return {
    status: 'secure',
    directoryId: dir.id,
    apex,
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
