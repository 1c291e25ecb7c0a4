// Whole messages (RFC 1035 4.1) with EDNS(0) (RFC 6891) parsed out of the additional section.
import { DnsWireError } from '../errors.js';
import { decodeLabels, labelsToName } from '../values/name.js';
import { codecFor, unknownCodec } from './rdata-codecs.js';
import type { WireCodec } from './rdata-codecs.js';
import { Reader } from './reader.js';
import { RRType } from '../types.js';
import type {
  DecodeOptions,
  Edns,
  EdnsOption,
  EncodeOptions,
  Message,
  PeekedHeader,
  Question,
  ResourceRecord,
} from '../types.js';
import { Writer } from './writer.js';

const HEADER = 12;

function readHeader(buf: Uint8Array): PeekedHeader {
  const u16 = (p: number): number => ((buf[p] as number) << 8) | (buf[p + 1] as number);
  const f = u16(2);
  return {
    id: u16(0),
    qr: (f & 0x8000) !== 0,
    opcode: (f >>> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    z: (f & 0x0040) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
    qdcount: u16(4),
    ancount: u16(6),
    nscount: u16(8),
    arcount: u16(10),
  };
}

/**
 * The header of any packet of at least 12 octets, without looking further; lets a server answer
 * FORMERR with the right ID and opcode when `decodeMessage` fails. Undefined when shorter.
 */
export function peekHeader(bytes: Uint8Array): PeekedHeader | undefined {
  return bytes.length < HEADER ? undefined : readHeader(bytes);
}

function rdataCodec(type: number, data: unknown): WireCodec<unknown> {
  return typeof data === 'object' && data !== null && 'raw' in data
    ? (unknownCodec as WireCodec<unknown>)
    : codecFor(type);
}

/** Decodes `length` rdata octets of `type` at `offset` of a whole message. */
export function decodeRdata(
  type: number,
  buf: Uint8Array,
  offset: number,
  length: number,
): ResourceRecord['data'] {
  if (offset < 0 || length < 0 || offset + length > buf.length)
    throw new DnsWireError('truncated', offset, 'rdata runs past the end');
  const r = new Reader(buf, offset, offset + length);
  const data = codecFor(type).decode(r) as ResourceRecord['data'];
  if (r.pos !== r.end) throw new DnsWireError('bad-rdata', r.pos, 'rdata longer than its content');
  return data;
}

/** Writes one record; returns nothing, the writer advances. */
export function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name, true, true);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  const lenAt = w.pos;
  w.u16(0);
  rdataCodec(rr.type, rr.data).encode(w, rr.data);
  const len = w.pos - lenAt - 2;
  if (len > 0xffff) throw new DnsWireError('too-large', -1, 'rdata longer than 65535 octets');
  w.setU16(lenAt, len);
}

/** Uncompressed rdata of a record (case kept). */
export function encodeRdata(rr: ResourceRecord): Uint8Array {
  const w = new Writer({ compress: false, canonical: false }, 64);
  rdataCodec(rr.type, rr.data).encode(w, rr.data);
  return w.result();
}

/** Canonical rdata (RFC 4034 6.2 as amended by RFC 6840 5.1): names uncompressed, lowercased. */
export function canonicalRdata(rr: ResourceRecord): Uint8Array {
  const w = new Writer({ compress: false, canonical: true }, 64);
  rdataCodec(rr.type, rr.data).encode(w, rr.data);
  return w.result();
}

function readRecord(buf: Uint8Array, pos: number): { rr: ResourceRecord; end: number } {
  const { labels, end: nameEnd } = decodeLabels(buf, pos);
  const r = new Reader(buf, nameEnd, buf.length);
  const type = r.u16();
  const cls = r.u16();
  const ttl = r.u32();
  const rdlength = r.u16();
  if (r.pos + rdlength > buf.length)
    throw new DnsWireError('truncated', r.pos, 'rdata runs past the end of the message');
  const data = decodeRdata(type, buf, r.pos, rdlength);
  return {
    rr: { name: labelsToName(labels), type, class: cls, ttl, data } as ResourceRecord,
    end: r.pos + rdlength,
  };
}

function decodeEdns(
  rr: ResourceRecord,
  at: number,
  buf: Uint8Array,
  rdataStart: number,
): { edns: Edns; extRcode: number } {
  if (rr.name !== '.') throw new DnsWireError('bad-opt', at, 'OPT owner is not the root');
  const raw = (rr.data as { raw: Uint8Array }).raw;
  const options: EdnsOption[] = [];
  const r = new Reader(buf, rdataStart, rdataStart + raw.length);
  while (r.remaining() > 0) {
    if (r.remaining() < 4) throw new DnsWireError('bad-opt', r.pos, 'truncated EDNS option');
    const code = r.u16();
    const len = r.u16();
    if (len > r.remaining())
      throw new DnsWireError('bad-opt', r.pos, 'EDNS option runs past the OPT');
    options.push({ code, data: r.bytes(len) });
  }
  const ttl = rr.ttl;
  return {
    edns: {
      udpPayloadSize: rr.class,
      version: (ttl >>> 16) & 0xff,
      dnssecOk: (ttl & 0x8000) !== 0,
      zFlags: ttl & 0x7fff,
      options,
    },
    extRcode: ttl >>> 24,
  };
}

/**
 * Decodes a whole message. Throws `DnsWireError` (with `code` and `offset`) on anything
 * malformed: short reads, forward or looping pointers, long labels or names, header counts that
 * do not match, RDLENGTHs that disagree with their rdata, repeated or misplaced OPT records.
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions = {}): Message {
  if (bytes.length < HEADER)
    throw new DnsWireError('truncated', bytes.length, 'shorter than a DNS header');
  const h = readHeader(bytes);
  let pos = HEADER;
  const questions: Question[] = [];
  for (let i = 0; i < h.qdcount; i++) {
    const { labels, end } = decodeLabels(bytes, pos);
    const r = new Reader(bytes, end, bytes.length);
    questions.push({ name: labelsToName(labels), type: r.u16(), class: r.u16() });
    pos = r.pos;
  }
  const sections: ResourceRecord[][] = [[], [], []];
  const counts = [h.ancount, h.nscount, h.arcount];
  let edns: Edns | undefined;
  let extRcode = 0;
  for (let s = 0; s < 3; s++) {
    const out = sections[s] as ResourceRecord[];
    for (let i = 0; i < (counts[s] as number); i++) {
      const at = pos;
      const { rr, end } = readRecord(bytes, pos);
      if (rr.type === RRType.OPT) {
        if (s !== 2) throw new DnsWireError('bad-opt', at, 'OPT outside the additional section');
        if (edns) throw new DnsWireError('bad-opt', at, 'more than one OPT record');
        const rdLen = (rr.data as { raw: Uint8Array }).raw.length;
        const decoded = decodeEdns(rr, at, bytes, end - rdLen);
        edns = decoded.edns;
        extRcode = decoded.extRcode;
      } else {
        out.push(rr);
      }
      pos = end;
    }
  }
  if (pos !== bytes.length && !options.allowTrailingData)
    throw new DnsWireError('trailing-data', pos, 'octets after the last record');
  const msg: Message = {
    id: h.id,
    qr: h.qr,
    opcode: h.opcode,
    aa: h.aa,
    tc: h.tc,
    rd: h.rd,
    ra: h.ra,
    z: h.z,
    ad: h.ad,
    cd: h.cd,
    rcode: (extRcode << 4) | h.rcode,
    questions,
    answers: sections[0] as ResourceRecord[],
    authorities: sections[1] as ResourceRecord[],
    additionals: sections[2] as ResourceRecord[],
  };
  return edns ? { ...msg, edns } : msg;
}

function writeOpt(w: Writer, edns: Edns, rcode: number): void {
  w.u8(0);
  w.u16(RRType.OPT);
  w.u16(edns.udpPayloadSize);
  w.u8(rcode >>> 4);
  w.u8(edns.version);
  w.u16((edns.dnssecOk ? 0x8000 : 0) | ((edns.zFlags ?? 0) & 0x7fff));
  let len = 0;
  for (const o of edns.options) len += 4 + o.data.length;
  w.u16(len);
  for (const o of edns.options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
}

function optLength(edns: Edns | undefined): number {
  if (!edns) return 0;
  let len = 11;
  for (const o of edns.options) len += 4 + o.data.length;
  return len;
}

/**
 * Encodes a message. With `maxSize`, records that do not fit are dropped whole from the end
 * (additional first, then authority, then answer); TC is set when an answer or authority record
 * was dropped (RFC 2181 9); the question section and OPT are always kept. Without `maxSize`, a
 * message over 65535 octets is refused (`too-large`) rather than cut.
 */
export function encodeMessage(msg: Message, options: EncodeOptions = {}): Uint8Array {
  const maxSize = Math.min(options.maxSize ?? 0xffff, 0xffff);
  if (msg.rcode > 0xfff || msg.rcode < 0)
    throw new DnsWireError('bad-value', -1, 'rcode out of range');
  if (msg.rcode > 0xf && !msg.edns)
    throw new DnsWireError('bad-value', -1, 'extended rcode needs an OPT record (edns)');
  if (msg.opcode < 0 || msg.opcode > 0xf)
    throw new DnsWireError('bad-value', -1, 'opcode out of range');
  const w = new Writer({ compress: options.compress ?? true, canonical: false });
  w.u16(msg.id);
  w.u16(0); // flags, patched below
  w.u16(msg.questions.length);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  for (const q of msg.questions) {
    w.name(q.name, true, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  const reserve = optLength(msg.edns);
  const sections = [msg.answers, msg.authorities, msg.additionals];
  const written = [0, 0, 0];
  let truncated = false;
  let stop = false;
  for (let s = 0; s < 3 && !stop; s++) {
    for (const rr of sections[s] as readonly ResourceRecord[]) {
      if (rr.type === RRType.OPT)
        throw new DnsWireError('bad-value', -1, 'put EDNS in message.edns, not as an OPT record');
      const before = w.pos;
      writeRecord(w, rr);
      if (w.pos + reserve > maxSize) {
        if (options.maxSize === undefined)
          throw new DnsWireError('too-large', -1, 'message longer than 65535 octets');
        w.rollback(before);
        if (s < 2) truncated = true;
        stop = true;
        break;
      }
      written[s] = (written[s] as number) + 1;
    }
  }
  if (msg.edns) writeOpt(w, msg.edns, msg.rcode);
  if (w.pos > 0xffff) throw new DnsWireError('too-large', -1, 'message longer than 65535 octets');
  const flags =
    (msg.qr ? 0x8000 : 0) |
    (msg.opcode << 11) |
    (msg.aa ? 0x0400 : 0) |
    (msg.tc || truncated ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.ra ? 0x0080 : 0) |
    (msg.z ? 0x0040 : 0) |
    (msg.ad ? 0x0020 : 0) |
    (msg.cd ? 0x0010 : 0) |
    (msg.rcode & 0xf);
  w.setU16(2, flags);
  w.setU16(6, written[0] as number);
  w.setU16(8, written[1] as number);
  w.setU16(10, (written[2] as number) + (msg.edns ? 1 : 0));
  return w.result();
}

/** Encodes one record standalone (uncompressed); used by zone tooling and tests. */
export function encodeRecord(rr: ResourceRecord): Uint8Array {
  const w = new Writer({ compress: false, canonical: false }, 128);
  writeRecord(w, rr);
  return w.result();
}

/** Decodes one standalone record at `offset`; returns it and the offset after it. */
export function decodeRecord(buf: Uint8Array, offset = 0): { record: ResourceRecord; end: number } {
  const { rr, end } = readRecord(buf, offset);
  return { record: rr, end };
}

/** What {@link encodeQuery} sets beyond the question; the defaults ask an authority with DO. */
export interface QueryOptions {
  /** The DO bit (RFC 3225); default true. */
  readonly dnssecOk?: boolean;
  /** Checking Disabled (RFC 4035 3.2.2): the asker validates; default false. */
  readonly cd?: boolean;
  /** Recursion Desired; default false (an authority is asked). */
  readonly rd?: boolean;
}

/** One query for `name`/`type` in class IN with EDNS(0) (1232-octet payload, RFC 6891). */
export function encodeQuery(
  id: number,
  name: string,
  type: number,
  options: QueryOptions = {},
): Uint8Array {
  return encodeMessage({
    id: id & 0xffff,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: options.rd ?? false,
    ra: false,
    z: false,
    ad: false,
    cd: options.cd ?? false,
    rcode: 0,
    questions: [{ name, type, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: 1232, version: 0, dnssecOk: options.dnssecOk ?? true, options: [] },
  });
}
