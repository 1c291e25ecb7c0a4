// The hot paths of the directory, written as octets instead of through the general
// decode/answer/encode path:
//   - a published number: the encoded answer (with its RRSIG) is kept in the answer cache
//     (answer-cache.ts), so a repeated question costs a lookup, a copy and a few patched octets;
//   - a number nobody published: cannot be cached (every name is new to an enumerator), so each
//     costs one fresh signature, and everything around that signature is kept cheap.
// Both answer exactly what `answerQuery` answers (tested for equivalence) and decline anything
// else (other opcodes, classes and record counts, escapes, compression, EDNS versions, replies
// too large for the client), which the general path then answers.
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  encodeMessage,
  encodeName,
  encodeRdata,
  EdnsFlag,
  Opcode,
  PRINTS_AS_ITSELF,
  Rcode,
  RRClass,
  RRType,
} from '@switchboard/dns-wire';
import { answerQuery, SERVER_UDP_PAYLOAD } from './answer.js';
import type { FoundAnswer } from '../zone/answer-cache.js';
import { NEVER } from '../zone/answer-cache.js';
import { NAME_HASH_START, nameHash, nameHashStep, wireName } from '../zone/name-index.js';
import type { OnlineSigner } from '../zone/signer.js';
import type { ImageHit } from '../zone/image.js';
import type { Node, ZoneSettings, ZoneSnapshot } from '../zone/zone.js';
import { nameOfDigits, UNSERVABLE } from '../zone/zone.js';
import { rdataOf } from '../zone/records.js';

/** What the server needs to account for a reply written here; filled in by {@link fastReply}. */
export interface FastInfo {
  rcode: number;
  kind: 'answer' | 'nodata' | 'nxname';
  /** The question's type. */
  qtype: number;
  /** Where the query's first COOKIE option's data starts (RFC 7873 4), 0 if it has none. */
  cookieAt: number;
  /** Its length (8, or 16 to 40; other lengths are left to the general path's FORMERR). */
  cookieLength: number;
}

/** A fresh {@link FastInfo} to pass to {@link fastReply} (one can be reused for every query). */
export function fastInfo(): FastInfo {
  return { rcode: 0, kind: 'answer', qtype: 0, cookieAt: 0, cookieLength: 0 };
}

/** What one snapshot and signature window share: every octet of a denial but the query's own. */
interface DenialTemplate {
  readonly zone: ZoneSnapshot;
  readonly inception: number;
  readonly apexLabels: number;
  /** The apex in wire form: what every name under it ends with. */
  readonly apexWire: Uint8Array;
  /** SOA record after its owner name (TYPE .. RDATA), TTL = the negative TTL (RFC 2308 3). */
  readonly soaTail: Uint8Array;
  /** RRSIG(SOA) record after its owner name. */
  readonly soaSigTail: Uint8Array;
  readonly nsecTtl: number;
  /** NSEC type bitmaps: empty non-terminal (RRSIG NSEC) and NXNAME (RRSIG NSEC NXNAME). */
  readonly bitmapEmpty: Uint8Array;
  readonly bitmapNx: Uint8Array;
  /** RRSIG(NSEC) RDATA before the signature; octet 3 (labels) is set per query. */
  readonly sigPrefix: Uint8Array;
  readonly signatureLength: number;
}

const denialTemplates = new WeakMap<ZoneSnapshot, DenialTemplate>();

function u16(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 8;
  out[at + 1] = v & 0xff;
}

function u32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** TYPE CLASS TTL RDLENGTH RDATA of a record (its owner is written by the caller). */
function recordTail(rr: ResourceRecord, ttl: number): Uint8Array {
  const rdata = encodeRdata(rr);
  const out = new Uint8Array(10 + rdata.length);
  u16(out, 0, rr.type);
  u16(out, 2, rr.class);
  u32(out, 4, ttl);
  u16(out, 8, rdata.length);
  out.set(rdata, 10);
  return out;
}

function bitmap(types: readonly number[]): Uint8Array {
  // An NSEC RDATA with the root as next name is one zero octet followed by the bitmap.
  const rdata = encodeRdata({
    name: '.',
    type: RRType.NSEC,
    class: RRClass.IN,
    ttl: 0,
    data: { nextDomainName: '.', types },
  });
  return rdata.subarray(1);
}

function denialTemplate(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  now: number,
): DenialTemplate | undefined {
  const cached = denialTemplates.get(zone);
  if (cached && cached.inception === signer.inception(now)) return cached;
  const { inception, expiration } = signer.validityWindow(now);
  const inceptionSeconds = inception.getTime() / 1000;
  const { settings } = zone;
  const soa = zone.apexNode.get(RRType.SOA);
  const soaRecord = soa?.[0];
  if (!soa || !soaRecord) return undefined;
  const nsecTtl = Math.min(settings.soaTtl, settings.negativeTtl);
  const soaSig = signer.signHeld(soa, now);
  const key = signer.key;
  const signerWire = encodeName(settings.apex);
  const sigPrefix = new Uint8Array(18 + signerWire.length);
  u16(sigPrefix, 0, RRType.NSEC);
  sigPrefix[2] = key.algorithm;
  u32(sigPrefix, 4, nsecTtl);
  u32(sigPrefix, 8, (expiration.getTime() / 1000) >>> 0);
  u32(sigPrefix, 12, inceptionSeconds >>> 0);
  u16(sigPrefix, 16, key.keyTag);
  sigPrefix.set(signerWire, 18);
  const template: DenialTemplate = {
    zone,
    inception: inceptionSeconds,
    apexLabels: signerWire.length === 1 ? 0 : countLabels(signerWire),
    apexWire: signerWire,
    soaTail: recordTail(soaRecord, nsecTtl),
    soaSigTail: recordTail(soaSig, soaSig.ttl),
    nsecTtl,
    bitmapEmpty: bitmap([RRType.NSEC, RRType.RRSIG]),
    bitmapNx: bitmap([RRType.NSEC, RRType.RRSIG, RRType.NXNAME]),
    sigPrefix,
    signatureLength: soaSig.data.signature.length,
  };
  denialTemplates.set(zone, template);
  return template;
}

function countLabels(wire: Uint8Array): number {
  let n = 0;
  for (let p = 0; wire[p] !== 0; p += (wire[p] as number) + 1) n++;
  return n;
}

/** A plain query, as far as this module needs it. */
interface PlainQuery {
  /** Labels in the question name (the root not counted). */
  labels: number;
  /** FNV-1a hash of the lowercased wire name (name-index.ts). */
  hash: number;
  /** The name as asked has upper-case letters (resolvers randomise case, draft-vixie-dnsext-dns0x20). */
  upper: boolean;
  nameEnd: number;
  questionEnd: number;
  qtype: number;
  edns: boolean;
  payload: number;
  dnssecOk: boolean;
  compactOk: boolean;
  cookieAt: number;
  cookieLength: number;
}

// The query being answered, parsed into storage made once: answering allocates nothing but the
// reply (and a denial's signature). Nothing in this module awaits, so one set is enough.
const QUERY: PlainQuery = {
  labels: 0,
  hash: 0,
  upper: false,
  nameEnd: 0,
  questionEnd: 0,
  qtype: 0,
  edns: false,
  payload: 0,
  dnssecOk: false,
  compactOk: false,
  cookieAt: 0,
  cookieLength: 0,
};
/** The question name in wire form, lowercased. */
const WIRE = new Uint8Array(256);
/** Where each label length octet of the question name is, in the packet. */
const LABEL_STARTS = new Int32Array(128);
/** Where the answer to the query is: in the answer cache, or just encoded. */
const FOUND: FoundAnswer = { bytes: new Uint8Array(0), start: 0, length: 0 };
/** A denial's signed data (RFC 4034 3.1.8.1), written here before it is signed. */
const SIGNED_DATA = new Uint8Array(2048);

/**
 * `packet` read into {@link QUERY} as a plain query: one question of class IN with an
 * uncompressed name of printable ASCII, no other records but an OPT of version 0, nothing
 * after it; else false.
 */
function parsePlainQuery(packet: Uint8Array): boolean {
  const len = packet.length;
  if (len < 17) return false;
  const flags = ((packet[2] as number) << 8) | (packet[3] as number);
  // QR=0, OPCODE=QUERY, TC=0; QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT<=1.
  if ((flags & 0xfa00) !== 0) return false;
  if (packet[4] !== 0 || packet[5] !== 1) return false;
  if (packet[6] !== 0 || packet[7] !== 0 || packet[8] !== 0 || packet[9] !== 0) return false;
  const arcount = ((packet[10] as number) << 8) | (packet[11] as number);
  if (arcount > 1) return false;

  // The question name: labels of plain octets, no pointers; lowercased and hashed as we go.
  // The root alone, and a leading `*` label (it would change the RRSIG labels count, RFC 4034
  // 3.1.3), are left to the general path.
  if (packet[12] === 0 || (packet[12] === 1 && packet[13] === 0x2a)) return false;
  let pos = 12;
  let labels = 0;
  let hash = NAME_HASH_START;
  let upper = false;
  for (;;) {
    if (pos >= len) return false;
    const l = packet[pos] as number;
    WIRE[pos - 12] = l;
    hash = nameHashStep(hash, l);
    if (l === 0) break;
    if (l > 63 || pos + 1 + l > len || pos - 12 + l + 2 > 255) return false;
    LABEL_STARTS[labels++] = pos;
    for (let i = pos + 1; i <= pos + l; i++) {
      let b = packet[i] as number;
      if (PRINTS_AS_ITSELF[b] === 0) return false; // escapes: general path
      if (b >= 0x41 && b <= 0x5a) {
        b += 0x20;
        upper = true;
      }
      WIRE[i - 12] = b;
      hash = nameHashStep(hash, b);
    }
    pos += l + 1;
  }
  const nameEnd = pos + 1;
  if (nameEnd + 4 > len) return false;
  const qtype = ((packet[nameEnd] as number) << 8) | (packet[nameEnd + 1] as number);
  const qclass = ((packet[nameEnd + 2] as number) << 8) | (packet[nameEnd + 3] as number);
  const questionEnd = nameEnd + 4;
  if (qclass !== RRClass.IN || qtype === RRType.AXFR || qtype === RRType.IXFR) return false;

  // An OPT record: root owner, version 0, options well formed (they are ignored, as generally).
  const q = QUERY;
  q.edns = arcount === 1;
  if (q.edns) {
    if (!parseOpt(packet, questionEnd, q)) return false;
  } else {
    if (questionEnd !== len) return false;
    q.payload = 0;
    q.dnssecOk = false;
    q.compactOk = false;
    q.cookieAt = 0;
    q.cookieLength = 0;
  }
  q.labels = labels;
  q.hash = hash;
  q.upper = upper;
  q.nameEnd = nameEnd;
  q.questionEnd = questionEnd;
  q.qtype = qtype;
  return true;
}

/** The OPT record at `p`, the last thing in `packet`, read into `q`; false if not taken. */
function parseOpt(packet: Uint8Array, p: number, q: PlainQuery): boolean {
  const len = packet.length;
  if (p + 11 > len || packet[p] !== 0) return false;
  if (packet[p + 1] !== 0 || packet[p + 2] !== RRType.OPT) return false;
  if (packet[p + 6] !== 0) return false; // EDNS version 0 (else BADVERS, generally)
  const rdlength = ((packet[p + 9] as number) << 8) | (packet[p + 10] as number);
  if (p + 11 + rdlength !== len) return false;
  q.cookieAt = 0;
  q.cookieLength = 0;
  for (let o = p + 11; o < len;) {
    if (o + 4 > len) return false;
    const optionLength = ((packet[o + 2] as number) << 8) | (packet[o + 3] as number);
    // The first COOKIE option counts (RFC 7873 5.2); a malformed one is FORMERR, generally.
    if (q.cookieAt === 0 && packet[o] === 0 && packet[o + 1] === COOKIE_OPTION) {
      if (!(optionLength === 8 || (optionLength >= 16 && optionLength <= 40))) return false;
      q.cookieAt = o + 4;
      q.cookieLength = optionLength;
    }
    o += 4 + optionLength;
    if (o > len) return false;
  }
  const zflags = ((packet[p + 7] as number) << 8) | (packet[p + 8] as number);
  q.payload = ((packet[p + 3] as number) << 8) | (packet[p + 4] as number);
  q.dnssecOk = (zflags & 0x8000) !== 0;
  q.compactOk = (zflags & EdnsFlag.CO) !== 0;
  return true;
}

/** A wire name of printable octets (as the fast path takes them) in presentation form. */
function presentationName(wire: Uint8Array): string {
  let name = '';
  for (let at = 0; wire[at] !== 0; at += (wire[at] as number) + 1) {
    name += String.fromCharCode(...wire.subarray(at + 1, at + 1 + (wire[at] as number))) + '.';
  }
  return name;
}

/** Octets a reply's COOKIE option takes (the server adds it): code, length, 24 of data. */
export const REPLY_COOKIE_OPTION_SIZE = 28;
const COOKIE_OPTION = 10;

function sizeLimit(transport: 'udp' | 'tcp', q: PlainQuery): number {
  // Room is left for the COOKIE option the server appends to the reply.
  const cookie = q.cookieLength > 0 ? REPLY_COOKIE_OPTION_SIZE : 0;
  if (transport === 'tcp') return 65_535 - cookie;
  return (q.edns ? Math.min(Math.max(q.payload, 512), SERVER_UDP_PAYLOAD) : 512) - cookie;
}

/**
 * The reply to `packet` if it is a plain query for an RRset the zone holds or for a name under
 * the apex that holds nothing, with `info` filled in; otherwise undefined, and the general path
 * answers. `now` is in seconds.
 */
export function fastReply(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  now: number,
  info: FastInfo,
): Uint8Array | undefined {
  if (!parsePlainQuery(packet)) return undefined;
  const q = QUERY;
  const { qtype } = q;
  info.qtype = qtype;
  info.cookieAt = q.cookieAt;
  info.cookieLength = q.cookieLength;
  // Answered as records, not denials, even at names that hold nothing (answer.ts), or refused.
  if (qtype === RRType.NSEC || qtype === RRType.NXNAME) return undefined;
  const nameLength = q.nameEnd - 12;
  const cache = zone.answers;
  const serves = cache.serves(zone);
  // Kept answers first: most queries end there without touching the zone image.
  if (!(serves && cache.find(WIRE, nameLength, q.hash, qtype, q.dnssecOk, now, FOUND))) {
    const where = placeQuestion(zone);
    if (where === OUTSIDE) return undefined; // REFUSED, generally
    if (where === NOT_A_NUMBER) return fastDenial(packet, transport, zone, signer, now, info);
    let node: Node | undefined;
    let digits: string | undefined;
    if (where === APEX) node = zone.apexNode;
    else {
      digits = where;
      const hit = zone.image.find(digits, qtype, q.dnssecOk, HIT);
      if (!hit) return fastDenial(packet, transport, zone, signer, now, info);
      if (hit.bytes !== undefined && now < hit.renewAt) {
        // Kept in the image (made before, by this process or an earlier one).
        if (serves) cache.put(WIRE, nameLength, q.hash, qtype, q.dnssecOk, hit.renewAt, hit.bytes);
        FOUND.bytes = hit.bytes;
        FOUND.start = 0;
        FOUND.length = hit.bytes.length;
        return writeAnswer(packet, transport, info);
      }
      node = zone.nodes.get(digits);
    }
    // Unservable entries (SERVFAIL), NODATA, and types naming several RRsets or none: the
    // general path.
    const rrset = node === UNSERVABLE ? undefined : node?.get(qtype);
    if (!rrset || qtype === RRType.ANY || qtype === RRType.RRSIG) {
      return undefined;
    }
    const answer = encodeAnswer(
      zone,
      signer,
      WIRE,
      nameLength,
      q.hash,
      qtype,
      rrset,
      q.dnssecOk,
      now,
      digits,
    );
    FOUND.bytes = answer;
    FOUND.start = 0;
    FOUND.length = answer.length;
  }
  return writeAnswer(packet, transport, info);
}

/** {@link placeQuestion}: a name outside the zone, the apex, a name under it but not a number. */
const OUTSIDE = 0;
const APEX = 1;
const NOT_A_NUMBER = 2;
/** Where the image's find() puts what it found. */
const HIT: ImageHit = { renewAt: 0, bytes: undefined };

/** The apex of a zone's settings in wire form and its labels. */
const apexWires = new WeakMap<ZoneSettings, { wire: Uint8Array; labels: number }>();

/**
 * Where the question in {@link QUERY} (its name lowercased in {@link WIRE}) is: outside the
 * zone, the apex, under it but not a number, or the digits of a number (digit-tree name).
 */
function placeQuestion(
  zone: ZoneSnapshot,
): typeof OUTSIDE | typeof APEX | typeof NOT_A_NUMBER | string {
  let apex = apexWires.get(zone.settings);
  if (!apex) {
    const wire = encodeName(zone.settings.apex);
    apex = { wire, labels: wire.length === 1 ? 0 : countLabels(wire) };
    apexWires.set(zone.settings, apex);
  }
  const q = QUERY;
  const relative = q.labels - apex.labels;
  if (relative < 0) return OUTSIDE;
  const apexAt = relative === q.labels ? q.nameEnd - 1 : (LABEL_STARTS[relative] as number);
  const { wire } = apex;
  if (q.nameEnd - apexAt !== wire.length) return OUTSIDE;
  for (let i = 0; i < wire.length; i++) {
    if (WIRE[apexAt - 12 + i] !== wire[i]) return OUTSIDE;
  }
  if (relative === 0) return APEX;
  if (relative > 15) return NOT_A_NUMBER;
  let digits = '';
  for (let i = relative - 1; i >= 0; i--) {
    const at = (LABEL_STARTS[i] as number) - 12;
    const c = WIRE[at + 1] as number;
    if (WIRE[at] !== 1 || c < 0x30 || c > 0x39) return NOT_A_NUMBER;
    digits += String.fromCharCode(c);
  }
  return digits;
}

/**
 * The response rate limiting identity of the reply {@link fastReply} made for `packet`, as the
 * general path gives it: the question for answers, the apex and outcome for denials.
 */
export function fastIdentity(packet: Uint8Array, info: FastInfo, apex: string): string {
  if (info.kind !== 'answer') return `${apex}/${info.kind}/${info.rcode}`;
  return `${presentationName(packet.subarray(12)).toLowerCase()}/${info.qtype}`;
}

/** The general path's reply to a lowercase query with EDNS, ID 0 and no flags. */
function generalReply(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  name: string,
  qtype: number,
  dnssecOk: boolean,
  now: number,
): Uint8Array {
  const query: Message = {
    id: 0,
    qr: false,
    opcode: Opcode.QUERY,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name, type: qtype, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: SERVER_UDP_PAYLOAD, version: 0, dnssecOk, zFlags: 0, options: [] },
  };
  return encodeMessage(answerQuery(zone, signer, query, now).message);
}

/** The answer in {@link FOUND} to the query in {@link QUERY}, as asked. */
function writeAnswer(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  info: FastInfo,
): Uint8Array | undefined {
  const q = QUERY;
  const { bytes, start } = FOUND;
  // The answer ends with its OPT (11 octets, nothing else in the additional section).
  const size = q.edns ? FOUND.length : FOUND.length - 11;
  if (size > sizeLimit(transport, q)) return undefined; // the general path truncates
  // From Node's pool of small buffers: no memory of its own to allocate and free.
  const out = Buffer.allocUnsafe(size);
  out.set(bytes.subarray(start, start + size));
  out[0] = packet[0] as number;
  out[1] = packet[1] as number;
  out[2] = (out[2] as number) | ((packet[2] as number) & 0x01); // RD copied
  out[3] = (out[3] as number) | ((packet[3] as number) & 0x10); // CD copied
  // The question as asked: the answer holds it lowercased.
  if (q.upper) for (let i = 12; i < q.nameEnd; i++) out[i] = packet[i] as number;
  if (q.edns) {
    if (q.compactOk) out[size - 4] = (out[size - 4] as number) | (EdnsFlag.CO >> 8);
  } else {
    out[10] = 0;
    out[11] = 0;
  }
  info.rcode = Rcode.NOERROR;
  info.kind = 'answer';
  return out;
}

/**
 * The general path's answer for `rrset` at the name `wire[0, nameLength)` (a lowercase query
 * with EDNS, ID 0 and no flags, with or without DNSSEC), kept in the zone's answer cache until
 * its RRSIG is renewed, and in the zone image when it is a number's (`digits`). `hash` is the
 * name's hash (name-index.ts).
 */
function encodeAnswer(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  wire: Uint8Array,
  nameLength: number,
  hash: number,
  qtype: number,
  rrset: readonly ResourceRecord[],
  dnssec: boolean,
  now: number,
  digits: string | undefined,
  /** Keep it in memory: always (a query's), or while the cache has room (background work). */
  memory: 'always' | 'room' = 'always',
): Uint8Array {
  let renewAt: number;
  let bytes =
    dnssec && digits !== undefined ? numberAnswer(signer, wire, nameLength, rrset, now) : undefined;
  if (bytes) renewAt = signer.renewalOf(signer.numberExpiration(now, wire, nameLength));
  else {
    renewAt = dnssec ? signer.renewalTime(signer.signHeld(rrset, now)) : NEVER;
    bytes = generalReply(zone, signer, presentationName(wire), qtype, dnssec, now);
  }
  const cache = zone.answers;
  if (cache.serves(zone) && (memory === 'always' || cache.hasRoom(bytes.length + 2 * nameLength))) {
    cache.put(wire, nameLength, hash, qtype, dnssec, renewAt, bytes);
  }
  if (digits !== undefined) zone.image.keepAnswer(digits, qtype, dnssec, renewAt, bytes);
  return bytes;
}

/** TYPE CLASS TTL RDLENGTH of a record and its RDATA, as signed and sent. */
const RECORD_HEAD = 10;
/** The OPT record of a DNSSEC answer: root, our payload size, DO (CO is set per query). */
const DNSSEC_OPT = Uint8Array.of(
  0,
  0,
  41,
  SERVER_UDP_PAYLOAD >>> 8,
  SERVER_UDP_PAYLOAD & 0xff,
  0,
  0,
  0x80,
  0,
  0,
  0,
);

/**
 * The general path's DNSSEC answer (a lowercase query with EDNS, ID 0 and no flags) for
 * `rrset`, a number's NAPTR or TXT RRset at the wire name `wire[0, nameLength)`, written in
 * octets and signed now: its records with their RDATA encoded once (when the entry was read
 * and checked, records.ts; canonical, as these carry no name but the NAPTR's root replacement)
 * for both the reply and the signed data (RFC
 * 4034 3.1.8.1), instead of through `signRrset` and `encodeMessage`. Undefined for anything
 * else, which the general path answers. Its RRSIG expires at {@link OnlineSigner.numberExpiration}
 * (jittered by name), renewed at {@link OnlineSigner.renewalOf} that.
 */
export function numberAnswer(
  signer: OnlineSigner,
  wire: Uint8Array,
  nameLength: number,
  rrset: readonly ResourceRecord[],
  now: number,
): Uint8Array | undefined {
  const first = rrset[0];
  if (!first || (first.type !== RRType.NAPTR && first.type !== RRType.TXT)) return undefined;
  const { type, ttl } = first;
  const rdatas: Uint8Array[] = [];
  let rdataOctets = 0;
  for (const rr of rrset) {
    if (rr.type !== type || rr.ttl !== ttl || rr.class !== RRClass.IN) return undefined;
    if (rr.type === RRType.NAPTR && (rr.data as { replacement: string }).replacement !== '.') {
      return undefined;
    }
    // Canonical as it is (RFC 4034 6.2): no name in it but the root.
    const rdata = rdataOf(rr);
    rdatas.push(rdata);
    rdataOctets += rdata.length;
  }
  const expiration = signer.numberExpiration(now, wire, nameLength);
  const prefix = rrsigPrefix(signer, type, countLabels(wire), ttl, now, expiration);
  // Signed data: RRSIG RDATA before the signature, then the records in canonical order, each
  // owner | TYPE CLASS TTL RDLENGTH | RDATA (duplicates once, RFC 4034 6.3).
  const sorted = rdatas.slice().sort(compareOctets);
  const data = new Uint8Array(
    prefix.length + sorted.length * (nameLength + RECORD_HEAD) + rdataOctets,
  );
  data.set(prefix, 0);
  let d = prefix.length;
  let previous: Uint8Array | undefined;
  for (const rdata of sorted) {
    if (previous && compareOctets(previous, rdata) === 0) continue;
    previous = rdata;
    data.set(wire.subarray(0, nameLength), d);
    d = writeHead(data, d + nameLength, type, ttl, rdata.length);
    data.set(rdata, d);
    d += rdata.length;
  }
  const signature = signer.signHeldData(data.subarray(0, d));
  // Header, question, the records (owners compressed to the question), the RRSIG, the OPT.
  const questionEnd = 12 + nameLength + 4;
  const sigLength = RECORD_HEAD + prefix.length + signature.length;
  const size =
    questionEnd +
    rdatas.length * (2 + RECORD_HEAD) +
    rdataOctets +
    2 +
    sigLength +
    DNSSEC_OPT.length;
  const out = new Uint8Array(size);
  out[2] = 0x84; // QR AA
  u16(out, 4, 1);
  u16(out, 6, rdatas.length + 1);
  u16(out, 10, 1);
  out.set(wire.subarray(0, nameLength), 12);
  u16(out, 12 + nameLength, type);
  u16(out, 14 + nameLength, RRClass.IN);
  let w = questionEnd;
  for (const rdata of rdatas) {
    u16(out, w, 0xc00c);
    w = writeHead(out, w + 2, type, ttl, rdata.length);
    out.set(rdata, w);
    w += rdata.length;
  }
  u16(out, w, 0xc00c);
  w = writeHead(out, w + 2, RRType.RRSIG, ttl, prefix.length + signature.length);
  out.set(prefix, w);
  out.set(signature, w + prefix.length);
  out.set(DNSSEC_OPT, size - DNSSEC_OPT.length);
  return out;
}

/** Writes TYPE CLASS(IN) TTL RDLENGTH at `w`; returns where the RDATA goes. */
function writeHead(
  out: Uint8Array,
  w: number,
  type: number,
  ttl: number,
  rdLength: number,
): number {
  u16(out, w, type);
  u16(out, w + 2, RRClass.IN);
  u32(out, w + 4, ttl);
  u16(out, w + 8, rdLength);
  return w + RECORD_HEAD;
}

/** RRSIG RDATA before the signature for a held RRset signed at `now` (seconds). */
function rrsigPrefix(
  signer: OnlineSigner,
  typeCovered: number,
  labels: number,
  originalTtl: number,
  now: number,
  expiration: number,
): Uint8Array {
  const { key } = signer;
  const inception = signer.inception(now);
  let signerWire = signerWires.get(signer);
  if (!signerWire) {
    signerWire = encodeName(signer.apex);
    signerWires.set(signer, signerWire);
  }
  const prefix = new Uint8Array(18 + signerWire.length);
  u16(prefix, 0, typeCovered);
  prefix[2] = key.algorithm;
  prefix[3] = labels;
  u32(prefix, 4, originalTtl);
  u32(prefix, 8, expiration >>> 0);
  u32(prefix, 12, inception >>> 0);
  u16(prefix, 16, key.keyTag);
  prefix.set(signerWire, 18);
  return prefix;
}

/** The signer name (the apex) of each signer in wire form, lowercase. */
const signerWires = new WeakMap<OnlineSigner, Uint8Array>();

function compareOctets(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function fastDenial(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  now: number,
  info: FastInfo,
): Uint8Array | undefined {
  const q = QUERY;
  const { nameEnd, questionEnd } = q;
  // Only names under the apex that hold nothing.
  const template = denialTemplate(zone, signer, now);
  if (!template) return undefined;
  const relative = q.labels - template.apexLabels;
  if (relative <= 0) return undefined;
  const apexAt = LABEL_STARTS[relative] as number; // where the apex starts in the question
  const apexWire = template.apexWire;
  if (nameEnd - apexAt !== apexWire.length) return undefined;
  for (let i = 0; i < apexWire.length; i++) {
    if (WIRE[apexAt - 12 + i] !== apexWire[i]) return undefined;
  }
  const dnssec = q.dnssecOk;
  let digitsOnly = relative <= 15;
  for (let i = 0; digitsOnly && i < relative; i++) {
    const at = LABEL_STARTS[i] as number;
    const c = packet[at + 1] as number;
    digitsOnly = packet[at] === 1 && c >= 0x30 && c <= 0x39;
  }
  const kind = digitsOnly ? 'nodata' : 'nxname';
  const rcode = kind === 'nxname' && (!dnssec || q.compactOk) ? Rcode.NXDOMAIN : Rcode.NOERROR;

  const nameWireLength = nameEnd - 12;
  const bits = kind === 'nodata' ? template.bitmapEmpty : template.bitmapNx;
  const nsecRdLength = 2 + nameWireLength + bits.length;
  const sigRdLength = template.sigPrefix.length + template.signatureLength;
  const size =
    questionEnd +
    (2 + template.soaTail.length) +
    (dnssec ? 2 + template.soaSigTail.length + 12 + nsecRdLength + 12 + sigRdLength : 0) +
    (q.edns ? 11 : 0);
  if (size > sizeLimit(transport, q)) return undefined; // the general path truncates

  const out = Buffer.allocUnsafe(size).fill(0);
  out[0] = packet[0] as number;
  out[1] = packet[1] as number;
  out[2] = 0x84 | ((packet[2] as number) & 0x01); // QR AA, RD copied
  out[3] = ((packet[3] as number) & 0x10) | rcode; // CD copied
  u16(out, 4, 1);
  u16(out, 8, dnssec ? 4 : 1);
  u16(out, 10, q.edns ? 1 : 0);
  out.set(packet.subarray(12, questionEnd), 12);
  let w = questionEnd;
  u16(out, w, 0xc000 | apexAt); // the SOA's owner: the apex, in the question
  w += 2;
  out.set(template.soaTail, w);
  w += template.soaTail.length;
  if (dnssec) {
    w = writeDenialProof(out, w, template, signer, apexAt, relative, bits, nsecRdLength);
    if (w < 0) return undefined; // cannot happen: names are short
  }
  if (q.edns) {
    // OPT: root, our payload size, extended rcode 0, version 0, DO and CO echoed (RFC 9824 3.2).
    w += 1;
    u16(out, w, RRType.OPT);
    u16(out, w + 2, SERVER_UDP_PAYLOAD);
    u16(out, w + 6, (q.dnssecOk ? 0x8000 : 0) | (q.compactOk ? EdnsFlag.CO : 0));
    w += 10;
  }
  if (w !== size) return undefined; // cannot happen; never send a malformed reply
  info.rcode = rcode;
  info.kind = kind;
  return out;
}

/**
 * Writes a denial's DNSSEC records at `w` in `out`, after its SOA: the SOA's RRSIG, the NSEC
 * for the question name (in {@link WIRE}) and its RRSIG, signed now. Returns where they end, or
 * -1 when the signed data would not fit (it cannot: names are short).
 */
function writeDenialProof(
  out: Uint8Array,
  w: number,
  template: DenialTemplate,
  signer: OnlineSigner,
  apexAt: number,
  relative: number,
  bits: Uint8Array,
  nsecRdLength: number,
): number {
  const nameWireLength = QUERY.nameEnd - 12;
  u16(out, w, 0xc000 | apexAt);
  w += 2;
  out.set(template.soaSigTail, w);
  w += template.soaSigTail.length;
  // NSEC qname -> \000.qname (RFC 9824 2); the next name is never compressed (RFC 4034 4.1.1).
  u16(out, w, 0xc000 | 12);
  w += 2;
  const nsecStart = w;
  u16(out, w, RRType.NSEC);
  u16(out, w + 2, RRClass.IN);
  u32(out, w + 4, template.nsecTtl);
  u16(out, w + 8, nsecRdLength);
  w += 10;
  out[w] = 1;
  out[w + 1] = 0;
  w += 2;
  out.set(WIRE.subarray(0, nameWireLength), w); // the name lowercased
  w += nameWireLength;
  out.set(bits, w);
  w += bits.length;
  // RRSIG(NSEC): signed data = RDATA prefix | owner | TYPE CLASS TTL RDLENGTH | RDATA, all
  // canonical (RFC 4034 3.1.8.1, 6.2); the owner is the lowercased question name.
  const prefix = template.sigPrefix;
  const dataLength = prefix.length + nameWireLength + 10 + nsecRdLength;
  if (dataLength > SIGNED_DATA.length) return -1;
  const data = SIGNED_DATA.subarray(0, dataLength);
  data.set(prefix, 0);
  data[3] = relative + template.apexLabels;
  data.set(WIRE.subarray(0, nameWireLength), prefix.length);
  data.set(out.subarray(nsecStart, w), prefix.length + nameWireLength);
  const signature = signer.signData(data);
  u16(out, w, 0xc000 | 12);
  w += 2;
  u16(out, w, RRType.RRSIG);
  u16(out, w + 2, RRClass.IN);
  u32(out, w + 4, template.nsecTtl);
  u16(out, w + 8, prefix.length + signature.length);
  w += 10;
  out.set(data.subarray(0, prefix.length), w);
  w += prefix.length;
  out.set(signature, w);
  w += signature.length;
  return w;
}

/**
 * Signs every RRset at the apex (SOA, NS, DNSKEY) and encodes its DNSSEC answer, ahead of the
 * first query: every denial carries the SOA's signature, so a new serial is signed once here
 * rather than by the first denial (whose signatures the signing budget counts).
 */
export function warmApex(zone: ZoneSnapshot, signer: OnlineSigner, now: number): void {
  const cache = zone.answers;
  if (!cache.serves(zone)) return;
  const wire = wireName(zone.settings.apex);
  const hash = nameHash(wire);
  for (const [qtype, rrset] of zone.apexNode) {
    if (!cache.find(wire, wire.length, hash, qtype, true, now, FOUND)) {
      encodeAnswer(zone, signer, wire, wire.length, hash, qtype, rrset, true, now, undefined);
    }
  }
}

/**
 * Signs and encodes the answer of the number `digits` (type `qtype`, with or without DNSSEC)
 * into the zone image when none is kept or the one kept is due for renewal at `now` (seconds):
 * true if it did. For making and renewing answers in the background before any query has to
 * wait for them (warmer.ts); kept in memory too while the answer cache has room.
 */
export function renewAnswer(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  digits: string,
  qtype: number,
  dnssec: boolean,
  now: number,
  node: Node | undefined = zone.nodes.get(digits),
): boolean {
  const hit = zone.image.find(digits, qtype, dnssec, HIT);
  if (!hit || (hit.bytes !== undefined && now < hit.renewAt)) return false;
  const rrset = node === UNSERVABLE ? undefined : node?.get(qtype);
  if (!rrset) return false;
  const wire = wireName(nameOfDigits(digits, zone.settings.apex));
  encodeAnswer(
    zone,
    signer,
    wire,
    wire.length,
    nameHash(wire),
    qtype,
    rrset,
    dnssec,
    now,
    digits,
    'room',
  );
  return true;
}

/** {@link renewAnswer} with DNSSEC for every type the number `digits` holds: how many it made. */
export function warmNumber(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  digits: string,
  now: number,
): number {
  // Kept decoded (as queries do): the general path's encoder then signs these very RRsets, whose
  // signatures the signer keeps by identity, instead of decoding and signing them again.
  const node = zone.nodes.get(digits);
  if (!node || node === UNSERVABLE) return 0;
  let made = 0;
  for (const qtype of node.keys()) {
    if (renewAnswer(zone, signer, digits, qtype, true, now, node)) made++;
  }
  return made;
}
