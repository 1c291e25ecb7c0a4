// What the audit reads of a DNS message, decoded and encoded by @switchboard/dns-wire (the one
// DNS codec of the project: bounds-checked reads, backward-only compression pointers).
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  canonicalName,
  decodeMessage as decodeWire,
  encodeQuery as encodeWireQuery,
  isDnsWireError,
  isRecordType,
  RRType,
} from '@switchboard/dns-wire';

export const TYPE = {
  A: RRType.A,
  NS: RRType.NS,
  SOA: RRType.SOA,
  TXT: RRType.TXT,
  NAPTR: RRType.NAPTR,
  OPT: RRType.OPT,
  DS: RRType.DS,
  RRSIG: RRType.RRSIG,
  NSEC: RRType.NSEC,
  DNSKEY: RRType.DNSKEY,
  NSEC3: RRType.NSEC3,
  AXFR: RRType.AXFR,
} as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
} as const;

/** A record as the audit sees it (names lowercased, RFC 4034 6.2). */
export interface AuditRecord {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  /** NSEC only: the next owner name (RFC 4034 section 4.1.1). */
  readonly nextName?: string;
  /** NSEC only: the types in the bitmap. */
  readonly types?: readonly number[];
  /** RRSIG only: the type covered. */
  readonly typeCovered?: number;
}

export interface AuditMessage {
  readonly id: number;
  readonly rcode: number;
  readonly truncated: boolean;
  readonly authoritative: boolean;
  readonly answers: readonly AuditRecord[];
  readonly authority: readonly AuditRecord[];
  readonly additional: readonly AuditRecord[];
}

/** A malformed response. */
export class DnsFormatError extends Error {
  override readonly name = 'DnsFormatError';
}

/** One query with EDNS(0) and, when `dnssecOk`, the DO bit (RFC 3225). RD is off: we ask the authority. */
export function encodeQuery(id: number, name: string, type: number, dnssecOk = true): Uint8Array {
  return encodeWireQuery(id, name.endsWith('.') ? name : `${name}.`, type, { dnssecOk });
}

function auditRecord(rr: ResourceRecord): AuditRecord {
  const seen = { name: canonicalName(rr.name), type: rr.type, ttl: rr.ttl };
  if (isRecordType(rr, RRType.NSEC)) {
    const { nextDomainName, types } = rr.data;
    return { ...seen, nextName: canonicalName(nextDomainName), types };
  }
  if (isRecordType(rr, RRType.RRSIG)) return { ...seen, typeCovered: rr.data.typeCovered };
  return seen;
}

/** Reads a DNS message (RFC 1035 section 4.1); a malformed one throws `DnsFormatError`. */
export function decodeMessage(buf: Uint8Array): AuditMessage {
  let msg: Message;
  try {
    msg = decodeWire(buf);
  } catch (err) {
    if (isDnsWireError(err)) throw new DnsFormatError(err.message);
    throw err;
  }
  return {
    id: msg.id,
    rcode: msg.rcode,
    truncated: msg.tc,
    authoritative: msg.aa,
    answers: msg.answers.map(auditRecord),
    authority: msg.authorities.map(auditRecord),
    additional: msg.additionals.map(auditRecord),
  };
}
