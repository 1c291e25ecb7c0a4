import type { Edns, Message, Question, ResourceRecord } from '@switchboard/dns-wire';
import {
  canonicalName,
  decodeMessage,
  EdnsFlag,
  encodeMessage,
  Opcode,
  peekHeader,
  Rcode,
  RRClass,
  RRType,
} from '@switchboard/dns-wire';
import { compactDenialNsec } from '@switchboard/dnssec';
import type { OnlineSigner } from '../zone/signer.js';
import type { Node, ZoneSnapshot } from '../zone/zone.js';
import { classifyName, entrySerialAt } from '../zone/zone.js';

/** The largest UDP payload this server offers and uses (DNS flag day 2020 recommendation). */
export const SERVER_UDP_PAYLOAD = 1232;

/** How the query arrived. */
export type Transport = 'udp' | 'tcp';

/** What kind of answer this was (for rate limiting and metrics). */
export type AnswerKind = 'answer' | 'nodata' | 'nxname' | 'referral' | 'error';

/** A response message and its classification. */
export interface Answer {
  readonly message: Message;
  readonly kind: AnswerKind;
}

/**
 * SERVFAIL for a packet whose answer failed unexpectedly, with its question and OPT when it
 * decodes, header only otherwise; undefined for packets not to be answered (responses, too short).
 */
export function servfailFor(packet: Uint8Array): Uint8Array | undefined {
  const header = packet.length >= 12 ? peekHeader(packet) : undefined;
  if (!header || header.qr) return undefined;
  try {
    const query = decodeMessage(packet);
    return encodeMessage(errorResponse(query, Rcode.SERVFAIL, query.questions.slice(0, 1)));
  } catch {
    return encodeMessage(errorResponse(header, Rcode.SERVFAIL));
  }
}

/** An empty response to `query` with the given rcode (AA off). */
export function errorResponse(
  query: Pick<Message, 'id' | 'opcode' | 'rd' | 'cd' | 'edns'>,
  rcode: number,
  questions: readonly Question[] = [],
): Message {
  return {
    id: query.id,
    qr: true,
    opcode: query.opcode,
    aa: false,
    tc: false,
    rd: query.rd,
    ra: false,
    z: false,
    ad: false,
    cd: query.cd,
    rcode,
    questions,
    answers: [],
    authorities: [],
    additionals: [],
    ...(query.edns ? { edns: responseEdns(query.edns) } : {}),
  };
}

function responseEdns(q: Edns): Edns {
  return {
    udpPayloadSize: SERVER_UDP_PAYLOAD,
    version: 0,
    dnssecOk: q.dnssecOk,
    zFlags: (q.zFlags ?? 0) & EdnsFlag.CO,
    options: [],
  };
}

/**
 * Answers one standard query from a zone snapshot (the pure core of the server; the caller
 * handles transport, size and TSIG). `now` is seconds since the epoch.
 *
 * - outside the apex or another class: REFUSED (RFC 1035 4.1.1; no recursion here);
 * - EDNS version above 0: BADVERS (RFC 6891 6.1.3);
 * - names without records: NOERROR with compact denial (RFC 9824), SOA in authority;
 *   the NXDOMAIN rcode is used only for DO=0 queries and CO=1 queries (RFC 9824 section 4).
 */
export function answerQuery(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  query: Message,
  now: number,
): Answer {
  const refusal = headerError(query);
  if (refusal) return refusal;
  // headerError checked that there is exactly one question.
  const question = query.questions[0] as Question;
  const qname = canonicalName(question.name);
  const placement = classifyName(zone, qname);
  if (placement.kind === 'outside') {
    return { message: errorResponse(query, Rcode.REFUSED, query.questions), kind: 'error' };
  }
  // A stored entry that cannot be encoded (zone.ts UNSERVABLE): neither its records nor a
  // denial, which would claim the number is not published.
  if (placement.kind === 'unservable') {
    return { message: errorResponse(query, Rcode.SERVFAIL, query.questions), kind: 'error' };
  }
  const dnssec = query.edns?.dnssecOk === true;
  const compactOk = ((query.edns?.zFlags ?? 0) & EdnsFlag.CO) !== 0;
  const base = { ...errorResponse(query, Rcode.NOERROR, query.questions), aa: true };
  const sig = (rrset: readonly ResourceRecord[]): ResourceRecord[] =>
    dnssec ? [signer.signHeld(rrset, now)] : [];

  if (placement.kind === 'node') {
    const node = placement.node;
    const answers = answersAt(node, question.type, qname, zone, signer, dnssec, now);
    if (answers.length > 0) {
      return { message: { ...base, answers }, kind: 'answer' };
    }
    return {
      message: {
        ...base,
        authorities: denial(zone, signer, qname, typesAt(node), dnssec, now, sig),
      },
      kind: 'nodata',
    };
  }
  if (question.type === RRType.NSEC) {
    // Under compact denial every name under the apex owns an NSEC record, the one its denials
    // carry (its bitmap lists NSEC), so a query for that type is answered with it: a denial
    // could not prove NSEC absent. Counted as the denial it stands for (one RRL bucket for
    // random names, like denials).
    const nsec = compactNsec(zone, qname, placement.kind === 'empty' ? [] : 'nxdomain');
    const answers: ResourceRecord[] = [nsec];
    if (dnssec)
      answers.push(signer.signKeyed(nsecCacheKey(zone, qname, placement.kind), [nsec], now));
    return {
      message: { ...base, answers },
      kind: placement.kind === 'empty' ? 'nodata' : 'nxname',
    };
  }
  if (placement.kind === 'empty') {
    return {
      message: { ...base, authorities: denial(zone, signer, qname, [], dnssec, now, sig) },
      kind: 'nodata',
    };
  }
  return {
    message: {
      ...base,
      rcode: !dnssec || compactOk ? Rcode.NXDOMAIN : Rcode.NOERROR,
      authorities: denial(zone, signer, qname, 'nxdomain', dnssec, now, sig),
    },
    kind: 'nxname',
  };
}

/** The error answer for a query this server does not answer from the zone, by its header. */
function headerError(query: Message): Answer | undefined {
  const question = query.questions[0];
  if (query.opcode !== Opcode.QUERY) {
    return { message: errorResponse(query, Rcode.NOTIMP, query.questions), kind: 'error' };
  }
  if (!question || query.questions.length !== 1) {
    return { message: errorResponse(query, Rcode.FORMERR), kind: 'error' };
  }
  if (query.edns && query.edns.version !== 0) {
    return { message: errorResponse(query, Rcode.BADVERS, query.questions), kind: 'error' };
  }
  if (question.class !== RRClass.IN && question.class !== RRClass.ANY) {
    return { message: errorResponse(query, Rcode.REFUSED, query.questions), kind: 'error' };
  }
  // NXNAME only ever appears in denial bitmaps; asking for it is malformed (RFC 9824 3.5).
  if (question.type === RRType.NXNAME) {
    return { message: errorResponse(query, Rcode.FORMERR, query.questions), kind: 'error' };
  }
  return undefined;
}

function typesAt(node: Node): number[] {
  return [...node.keys()];
}

function answersAt(
  node: Node,
  qtype: number,
  qname: string,
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  dnssec: boolean,
  now: number,
): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  const add = (rrset: readonly ResourceRecord[]): void => {
    out.push(...rrset);
    if (dnssec) out.push(signer.signHeld(rrset, now));
  };
  if (qtype === RRType.ANY) {
    // RFC 8482 permits a subset; the sets here are small, so all of them are returned.
    for (const rrset of node.values()) add(rrset);
    return out;
  }
  if (qtype === RRType.NSEC) {
    const nsec = compactNsec(zone, qname, typesAt(node));
    out.push(nsec);
    if (dnssec) out.push(signer.signKeyed(nsecCacheKey(zone, qname, 'node'), [nsec], now));
    return out;
  }
  if (qtype === RRType.RRSIG) {
    if (dnssec) for (const rrset of node.values()) out.push(signer.signHeld(rrset, now));
    return out;
  }
  const rrset = node.get(qtype);
  if (rrset) add(rrset);
  return out;
}

function compactNsec(
  zone: ZoneSnapshot,
  qname: string,
  types: readonly number[] | 'nxdomain',
): ResourceRecord {
  const ttl = Math.min(zone.settings.soaTtl, zone.settings.negativeTtl);
  const present =
    types === 'nxdomain' ? types : [...new Set([...types, RRType.RRSIG, RRType.NSEC])];
  return compactDenialNsec(qname, present, { ttl });
}

function nsecCacheKey(zone: ZoneSnapshot, qname: string, kind: string): string {
  // The serial is part of the key for existing names (their type set can change).
  return kind === 'node' ? `${qname}|${entrySerialAt(zone, qname)}` : `${qname}|${kind}`;
}

function denial(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  qname: string,
  types: readonly number[] | 'nxdomain',
  dnssec: boolean,
  now: number,
  sig: (rrset: readonly ResourceRecord[]) => ResourceRecord[],
): ResourceRecord[] {
  const soa = zone.apexNode.get(RRType.SOA) ?? [];
  const negativeTtl = Math.min(zone.settings.soaTtl, zone.settings.negativeTtl);
  // RFC 2308 section 3: the SOA in a negative answer carries the negative TTL.
  const soaRecords = soa.map((rr) => ({ ...rr, ttl: negativeTtl }));
  if (!dnssec) return soaRecords;
  const nsec = compactNsec(zone, qname, types);
  const kind = types === 'nxdomain' ? 'nx' : types.length === 0 ? 'ent' : 'node';
  return [
    ...soaRecords,
    ...sig(soa),
    nsec,
    signer.signKeyed(nsecCacheKey(zone, qname, kind), [nsec], now),
  ];
}
