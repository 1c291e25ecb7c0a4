// The little of RFC 1035 / RFC 6891 / RFC 4034 / RFC 5155 the audit needs: build one query,
// read the sections of a response, and the owner/next names of NSEC records. Every read is
// bounds-checked; compression pointers must point backwards (RFC 1035 section 4.1.4).

export const TYPE = {
  A: 1,
  NS: 2,
  SOA: 6,
  TXT: 16,
  NAPTR: 35,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  AXFR: 252,
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

/** A record as the audit sees it. */
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

/** Wire form of an absolute name; labels are taken literally (no escapes needed by the audit). */
function encodeName(name: string): Buffer {
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new DnsFormatError('label longer than 63 octets');
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** One query with EDNS(0) and, when `dnssecOk`, the DO bit (RFC 3225). RD is off: we ask the authority. */
export function encodeQuery(id: number, name: string, type: number, dnssecOk = true): Uint8Array {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0000, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT (OPT)
  const question = Buffer.concat([encodeName(name), Buffer.from([type >> 8, type & 0xff, 0, 1])]);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, dnssecOk ? 0x80 : 0, 0, 0, 0]); // 1232-octet payload
  return new Uint8Array(Buffer.concat([header, question, opt]));
}

function readName(buf: Uint8Array, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = start;
  let end = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the message');
    const len = buf[pos] as number;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | (buf[pos + 1] as number);
      if (target >= pos) throw new DnsFormatError('compression pointer does not point backwards');
      if (++jumps > 64) throw new DnsFormatError('compression loop');
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if (len > 63) throw new DnsFormatError('bad label length');
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the message');
    total += len + 1;
    if (total > 255) throw new DnsFormatError('name longer than 255 octets');
    let label = '';
    for (const b of buf.subarray(pos + 1, pos + 1 + len)) {
      // RFC 4343 presentation: printable ASCII as is (dot and backslash escaped), others \DDD.
      if (b === 0x2e || b === 0x5c) label += `\\${String.fromCharCode(b)}`;
      else if (b > 0x20 && b < 0x7f) label += String.fromCharCode(b).toLowerCase();
      else label += `\\${b.toString().padStart(3, '0')}`;
    }
    labels.push(label);
    pos += 1 + len;
  }
  return { name: labels.length === 0 ? '.' : `${labels.join('.')}.`, end };
}

function u16(buf: Uint8Array, pos: number): number {
  if (pos + 2 > buf.length) throw new DnsFormatError('message truncated');
  return ((buf[pos] as number) << 8) | (buf[pos + 1] as number);
}

function u32(buf: Uint8Array, pos: number): number {
  return u16(buf, pos) * 65536 + u16(buf, pos + 2);
}

function typeBitmap(buf: Uint8Array, start: number, end: number): number[] {
  const types: number[] = [];
  let pos = start;
  while (pos < end) {
    if (pos + 2 > end) throw new DnsFormatError('bad NSEC type bitmap');
    const window = buf[pos] as number;
    const len = buf[pos + 1] as number;
    if (len < 1 || len > 32 || pos + 2 + len > end)
      throw new DnsFormatError('bad NSEC type bitmap');
    for (let i = 0; i < len; i += 1) {
      const byte = buf[pos + 2 + i] as number;
      for (let bit = 0; bit < 8; bit += 1)
        if (byte & (0x80 >> bit)) types.push(window * 256 + i * 8 + bit);
    }
    pos += 2 + len;
  }
  return types;
}

/** Reads a DNS message (RFC 1035 section 4.1). */
export function decodeMessage(buf: Uint8Array): AuditMessage {
  if (buf.length < 12) throw new DnsFormatError('message shorter than its header');
  const flags = u16(buf, 2);
  const counts = [u16(buf, 4), u16(buf, 6), u16(buf, 8), u16(buf, 10)] as const;
  let pos = 12;
  for (let i = 0; i < counts[0]; i += 1) {
    pos = readName(buf, pos).end + 4;
  }
  const sections: AuditRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s += 1) {
    for (let i = 0; i < (counts[s + 1] as number); i += 1) {
      const { name, end } = readName(buf, pos);
      const type = u16(buf, end);
      const ttl = u32(buf, end + 4);
      const rdlength = u16(buf, end + 8);
      const rdata = end + 10;
      if (rdata + rdlength > buf.length) throw new DnsFormatError('rdata runs past the message');
      let record: AuditRecord = { name, type, ttl };
      if (type === TYPE.NSEC) {
        const next = readName(buf, rdata);
        record = {
          ...record,
          nextName: next.name,
          types: typeBitmap(buf, next.end, rdata + rdlength),
        };
      } else if (type === TYPE.RRSIG) {
        record = { ...record, typeCovered: u16(buf, rdata) };
      }
      sections[s]?.push(record);
      pos = rdata + rdlength;
    }
  }
  const [answers = [], authority = [], additional = []] = sections;
  const optRcode = additional.find((r) => r.type === TYPE.OPT);
  // Extended RCODE (RFC 6891 section 6.1.3): upper 8 bits sit in the OPT TTL's first octet.
  const extended = optRcode === undefined ? 0 : Math.floor(optRcode.ttl / 0x1000000) << 4;
  return {
    id: u16(buf, 0),
    rcode: extended | (flags & 0x0f),
    truncated: (flags & 0x0200) !== 0,
    authoritative: (flags & 0x0400) !== 0,
    answers,
    authority,
    additional,
  };
}
