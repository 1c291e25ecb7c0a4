// The hot paths of the directory, written as octets instead of through the general
// decode/answer/encode path:
//   - a published number: the encoded answer (with its RRSIG) is kept per RRset, like the
//     signature itself, so a repeated question costs a copy and a few patched octets;
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
import type { RrsigRecord } from '@switchboard/dnssec';
import { answerQuery, SERVER_UDP_PAYLOAD } from './answer.js';
import type { OnlineSigner } from './signer.js';
import type { ZoneSnapshot } from './zone.js';

/** A reply written here, with what the server needs to account for it. */
export interface FastReply {
  readonly bytes: Uint8Array;
  readonly rcode: number;
  readonly kind: 'answer' | 'nodata' | 'nxname';
  /** The response rate limiting identity (as the general path gives it). */
  readonly identity: string;
}

/** What one snapshot and signature window share: every octet of a denial but the query's own. */
interface DenialTemplate {
  readonly zone: ZoneSnapshot;
  readonly inception: number;
  readonly apexLabels: number;
  /** `.` + the apex: what every name under it ends with. */
  readonly apexSuffix: string;
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
  const { inception, expiration } = signer.validityWindow(now);
  const inceptionSeconds = inception.getTime() / 1000;
  const cached = denialTemplates.get(zone);
  if (cached && cached.inception === inceptionSeconds) return cached;
  const { settings } = zone;
  const soa = zone.nodes.get(settings.apex)?.get(RRType.SOA);
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
    apexSuffix: '.' + settings.apex,
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

/** The question name is built here, lowercased, before one zone lookup. */
const NAME_SCRATCH = Buffer.alloc(256);

/** A plain query, as far as this module needs it. */
interface PlainQuery {
  /** The question name, lowercased, absolute. */
  readonly name: string;
  /** Offsets of the question's label length octets. */
  readonly labelStarts: readonly number[];
  readonly nameEnd: number;
  readonly questionEnd: number;
  readonly qtype: number;
  readonly edns:
    | { readonly payload: number; readonly dnssecOk: boolean; readonly compactOk: boolean }
    | undefined;
}

/**
 * `packet` read as a plain query: one question of class IN with an uncompressed name of
 * printable ASCII, no other records but an OPT of version 0, nothing after it; else undefined.
 */
function parsePlainQuery(packet: Uint8Array): PlainQuery | undefined {
  const len = packet.length;
  if (len < 17) return undefined;
  const flags = ((packet[2] as number) << 8) | (packet[3] as number);
  // QR=0, OPCODE=QUERY, TC=0; QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT<=1.
  if ((flags & 0xfa00) !== 0) return undefined;
  if (packet[4] !== 0 || packet[5] !== 1) return undefined;
  if (packet[6] !== 0 || packet[7] !== 0 || packet[8] !== 0 || packet[9] !== 0) return undefined;
  const arcount = ((packet[10] as number) << 8) | (packet[11] as number);
  if (arcount > 1) return undefined;

  // The question name: labels of plain octets, no pointers; lowercased as we go.
  let pos = 12;
  // Presentation form built in a scratch buffer and read out in one go (a flat string, cheaper
  // to hash for the zone lookup than one grown a character at a time).
  let n = 0;
  const labelStarts: number[] = [];
  for (;;) {
    if (pos >= len) return undefined;
    const l = packet[pos] as number;
    if (l === 0) break;
    if (l > 63 || pos + 1 + l > len || n + l + 1 > 255) return undefined;
    labelStarts.push(pos);
    for (let i = pos + 1; i <= pos + l; i++) {
      let b = packet[i] as number;
      if (PRINTS_AS_ITSELF[b] === 0) return undefined; // escapes: general path
      if (b >= 0x41 && b <= 0x5a) b += 0x20;
      NAME_SCRATCH[n++] = b;
    }
    NAME_SCRATCH[n++] = 0x2e;
    pos += l + 1;
  }
  const name = NAME_SCRATCH.toString('latin1', 0, n);
  const nameEnd = pos + 1;
  // A leading `*` label would change the RRSIG labels count (RFC 4034 3.1.3): general path.
  if (name === '' || (packet[12] === 1 && packet[13] === 0x2a)) return undefined;
  if (nameEnd - 12 > 255 || nameEnd + 4 > len) return undefined;
  const qtype = ((packet[nameEnd] as number) << 8) | (packet[nameEnd + 1] as number);
  const qclass = ((packet[nameEnd + 2] as number) << 8) | (packet[nameEnd + 3] as number);
  const questionEnd = nameEnd + 4;
  if (qclass !== RRClass.IN || qtype === RRType.AXFR || qtype === RRType.IXFR) return undefined;

  // An OPT record: root owner, version 0, options well formed (they are ignored, as generally).
  let edns: PlainQuery['edns'];
  if (arcount === 1) {
    const p = questionEnd;
    if (p + 11 > len || packet[p] !== 0) return undefined;
    if (packet[p + 1] !== 0 || packet[p + 2] !== RRType.OPT) return undefined;
    if (packet[p + 6] !== 0) return undefined; // EDNS version 0 (else BADVERS, generally)
    const rdlength = ((packet[p + 9] as number) << 8) | (packet[p + 10] as number);
    if (p + 11 + rdlength !== len) return undefined;
    for (let o = p + 11; o < len;) {
      if (o + 4 > len) return undefined;
      o += 4 + (((packet[o + 2] as number) << 8) | (packet[o + 3] as number));
      if (o > len) return undefined;
    }
    const zflags = ((packet[p + 7] as number) << 8) | (packet[p + 8] as number);
    edns = {
      payload: ((packet[p + 3] as number) << 8) | (packet[p + 4] as number),
      dnssecOk: (zflags & 0x8000) !== 0,
      compactOk: (zflags & EdnsFlag.CO) !== 0,
    };
  } else if (questionEnd !== len) return undefined;
  return { name, labelStarts, nameEnd, questionEnd, qtype, edns };
}

function sizeLimit(transport: 'udp' | 'tcp', edns: PlainQuery['edns']): number {
  if (transport === 'tcp') return 65_535;
  return edns ? Math.min(Math.max(edns.payload, 512), SERVER_UDP_PAYLOAD) : 512;
}

/**
 * The reply to `packet` if it is a plain query for an RRset the zone holds or for a name under
 * the apex that holds nothing; otherwise undefined, and the general path answers. `now` is in
 * seconds.
 */
export function fastReply(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  now: number,
): FastReply | undefined {
  const query = parsePlainQuery(packet);
  if (!query) return undefined;
  const node = zone.nodes.get(query.name);
  if (node) {
    const rrset = node.get(query.qtype);
    return rrset ? fastAnswer(packet, transport, query, rrset, zone, signer, now) : undefined;
  }
  return fastDenial(packet, transport, query, zone, signer, now);
}

/** Encoded answers per RRset: without and with its RRSIG, each for the signature it holds. */
interface AnswerTemplates {
  plain?: Uint8Array;
  signed?: {
    readonly bytes: Uint8Array;
    readonly rrsig: RrsigRecord;
    /** When the signer renews that RRSIG (seconds): until then the bytes stand as they are. */
    readonly renewAt: number;
  };
}

const answerTemplates = new WeakMap<readonly ResourceRecord[], AnswerTemplates>();

function templatesOf(rrset: readonly ResourceRecord[]): AnswerTemplates {
  let templates = answerTemplates.get(rrset);
  if (!templates) answerTemplates.set(rrset, (templates = {}));
  return templates;
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

function fastAnswer(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  query: PlainQuery,
  rrset: readonly ResourceRecord[],
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  now: number,
): FastReply | undefined {
  const { qtype, edns, questionEnd } = query;
  if (qtype === RRType.ANY || qtype === RRType.RRSIG || qtype === RRType.NSEC) return undefined;
  const templates = templatesOf(rrset);
  let template: Uint8Array;
  if (edns?.dnssecOk) {
    // The template holds the RRSIG the signer holds now; once that is renewed, so is this.
    if (!templates.signed || now >= templates.signed.renewAt) {
      warmAnswer(zone, signer, query.name, qtype, rrset, now);
    }
    template = (templates.signed as { bytes: Uint8Array }).bytes;
  } else {
    template = templates.plain ??= generalReply(zone, signer, query.name, qtype, false, now);
  }
  // The template ends with its OPT (11 octets, nothing else in the additional section).
  const size = edns ? template.length : template.length - 11;
  if (size > sizeLimit(transport, edns)) return undefined; // the general path truncates
  const out = template.slice(0, size);
  out[0] = packet[0] as number;
  out[1] = packet[1] as number;
  out[2] = (out[2] as number) | ((packet[2] as number) & 0x01); // RD copied
  out[3] = (out[3] as number) | ((packet[3] as number) & 0x10); // CD copied
  for (let i = 12; i < questionEnd; i++) out[i] = packet[i] as number; // the question as asked
  if (edns) {
    if (edns.compactOk) out[size - 4] = (out[size - 4] as number) | (EdnsFlag.CO >> 8);
  } else {
    out[10] = 0;
    out[11] = 0;
  }
  return { bytes: out, rcode: Rcode.NOERROR, kind: 'answer', identity: `${query.name}/${qtype}` };
}

function fastDenial(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  query: PlainQuery,
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  now: number,
): FastReply | undefined {
  const { name, labelStarts, nameEnd, questionEnd, edns } = query;
  // Only names under the apex that hold nothing.
  const template = denialTemplate(zone, signer, now);
  if (!template || !name.endsWith(template.apexSuffix)) return undefined;
  const dnssec = edns?.dnssecOk === true;
  const relative = labelStarts.length - template.apexLabels;
  let digitsOnly = relative <= 15;
  for (let i = 0; digitsOnly && i < relative; i++) {
    const at = labelStarts[i] as number;
    const c = packet[at + 1] as number;
    digitsOnly = packet[at] === 1 && c >= 0x30 && c <= 0x39;
  }
  const kind = digitsOnly ? 'nodata' : 'nxname';
  const rcode = kind === 'nxname' && (!dnssec || edns?.compactOk) ? Rcode.NXDOMAIN : Rcode.NOERROR;

  const apexAt = labelStarts[relative] as number; // where the apex starts in the question
  const nameWireLength = nameEnd - 12;
  const bits = kind === 'nodata' ? template.bitmapEmpty : template.bitmapNx;
  const nsecRdLength = 2 + nameWireLength + bits.length;
  const sigRdLength = template.sigPrefix.length + template.signatureLength;
  const size =
    questionEnd +
    (2 + template.soaTail.length) +
    (dnssec ? 2 + template.soaSigTail.length + 12 + nsecRdLength + 12 + sigRdLength : 0) +
    (edns ? 11 : 0);
  if (size > sizeLimit(transport, edns)) return undefined; // the general path truncates

  const out = new Uint8Array(size);
  out[0] = packet[0] as number;
  out[1] = packet[1] as number;
  out[2] = 0x84 | ((packet[2] as number) & 0x01); // QR AA, RD copied
  out[3] = ((packet[3] as number) & 0x10) | rcode; // CD copied
  u16(out, 4, 1);
  u16(out, 8, dnssec ? 4 : 1);
  u16(out, 10, edns ? 1 : 0);
  out.set(packet.subarray(12, questionEnd), 12);
  let w = questionEnd;
  const pointer = (to: number): void => {
    u16(out, w, 0xc000 | to);
    w += 2;
  };
  pointer(apexAt);
  out.set(template.soaTail, w);
  w += template.soaTail.length;
  if (dnssec) {
    pointer(apexAt);
    out.set(template.soaSigTail, w);
    w += template.soaSigTail.length;
    // NSEC qname -> \000.qname (RFC 9824 2); the next name is never compressed (RFC 4034 4.1.1).
    pointer(12);
    const nsecStart = w;
    u16(out, w, RRType.NSEC);
    u16(out, w + 2, RRClass.IN);
    u32(out, w + 4, template.nsecTtl);
    u16(out, w + 8, nsecRdLength);
    w += 10;
    const nsecRdata = w;
    out[w] = 1;
    out[w + 1] = 0;
    w += 2;
    out.set(packet.subarray(12, nameEnd), w);
    lowercase(out, w, w + nameWireLength);
    w += nameWireLength;
    out.set(bits, w);
    w += bits.length;
    // RRSIG(NSEC): signed data = RDATA prefix | owner | TYPE CLASS TTL RDLENGTH | RDATA, all
    // canonical (RFC 4034 3.1.8.1, 6.2); the owner is the lowercased question name.
    const prefix = template.sigPrefix;
    const data = new Uint8Array(prefix.length + nameWireLength + 10 + nsecRdLength);
    data.set(prefix, 0);
    data[3] = relative + template.apexLabels;
    data.set(out.subarray(nsecRdata + 2, nsecRdata + 2 + nameWireLength), prefix.length);
    data.set(out.subarray(nsecStart, w), prefix.length + nameWireLength);
    const signature = signer.signData(data);
    pointer(12);
    u16(out, w, RRType.RRSIG);
    u16(out, w + 2, RRClass.IN);
    u32(out, w + 4, template.nsecTtl);
    u16(out, w + 8, prefix.length + signature.length);
    w += 10;
    out.set(data.subarray(0, prefix.length), w);
    w += prefix.length;
    out.set(signature, w);
    w += signature.length;
  }
  if (edns) {
    // OPT: root, our payload size, extended rcode 0, version 0, DO and CO echoed (RFC 9824 3.2).
    w += 1;
    u16(out, w, RRType.OPT);
    u16(out, w + 2, SERVER_UDP_PAYLOAD);
    u16(out, w + 6, (edns.dnssecOk ? 0x8000 : 0) | (edns.compactOk ? EdnsFlag.CO : 0));
    w += 10;
  }
  if (w !== size) return undefined; // cannot happen; never send a malformed reply
  return { bytes: out, rcode, kind, identity: `${zone.settings.apex}/${kind}/${rcode}` };
}

function lowercase(buf: Uint8Array, from: number, to: number): void {
  // Label length octets are at most 63, below 'A', so they are left alone.
  for (let i = from; i < to; i++) {
    const b = buf[i] as number;
    if (b >= 0x41 && b <= 0x5a) buf[i] = b + 0x20;
  }
}

/**
 * Signs `rrset` and encodes its answer to a DNSSEC query ahead of the first such query, so that
 * the first asker does not pay for either. Costs nothing when both are already held.
 */
export function warmAnswer(
  zone: ZoneSnapshot,
  signer: OnlineSigner,
  name: string,
  qtype: number,
  rrset: readonly ResourceRecord[],
  now: number,
): void {
  const templates = templatesOf(rrset);
  const rrsig = signer.signHeld(rrset, now);
  if (templates.signed?.rrsig !== rrsig) {
    templates.signed = {
      bytes: generalReply(zone, signer, name, qtype, true, now),
      rrsig,
      renewAt: signer.renewalTime(rrsig),
    };
  }
}
