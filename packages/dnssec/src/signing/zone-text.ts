// Zone-file text of a signed zone, written record by record straight into byte chunks: the
// same lines as dns-wire's `formatRecord` (one per record, `\n` after each), with RRSIG and
// NSEC3 lines (most of a signed zone) put together from cached pieces instead of strings. An
// RRSIG whose signature is still being made gets 88 placeholder octets (base64 of 64 octets),
// filled in by `fill` when it arrives; a chunk goes out once it is full and has no placeholder
// left, so the text streams out in order while the rest is signed.
import { Buffer } from 'node:buffer';
import { RRClass, RRType, formatRecord, normalizeName, typeToString } from '@switchboard/dns-wire';
import type { Nsec3Data, ResourceRecord, RrsigData } from '@switchboard/dns-wire';

/** Signature length the placeholders are made for (P-256 r||s, Ed25519). */
const SIGNATURE_OCTETS = 64;
/** Its base64 text, padding included. */
export const SIGNATURE_TEXT_OCTETS = 88;
const CHUNK_OCTETS = 1 << 20;
/** More than any fast-path line needs: a name prints in at most 4 x 255 octets. */
const LINE_ROOM = 8192;

const B64 = Buffer.from(
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  'latin1',
);
const B32_UPPER = Buffer.from('0123456789ABCDEFGHIJKLMNOPQRSTUV', 'latin1');

interface Chunk {
  readonly buf: Buffer;
  /** Offset of buf[0] in the whole text. */
  readonly start: number;
  used: number;
  /** Placeholders not yet filled. */
  pending: number;
}

/** The RRSIG rdata text before the signature, for one combination of its fields. */
interface RrsigPrefix {
  readonly d: RrsigData;
  readonly bytes: Uint8Array;
}

function sameRrsigFields(a: RrsigData, b: RrsigData): boolean {
  return (
    a.typeCovered === b.typeCovered &&
    a.algorithm === b.algorithm &&
    a.labels === b.labels &&
    a.originalTtl === b.originalTtl &&
    a.expiration === b.expiration &&
    a.inception === b.inception &&
    a.keyTag === b.keyTag &&
    a.signerName === b.signerName
  );
}

/** Base64 (with padding) of `src[at..at+64)` into `out` at `o`. */
function base64Signature(src: Uint8Array, at: number, out: Uint8Array, o: number): void {
  const end = at + SIGNATURE_OCTETS - 1; // 21 full groups, then one octet
  let i = at;
  for (; i < end; i += 3) {
    const v = ((src[i] as number) << 16) | ((src[i + 1] as number) << 8) | (src[i + 2] as number);
    out[o] = B64[v >>> 18] as number;
    out[o + 1] = B64[(v >>> 12) & 63] as number;
    out[o + 2] = B64[(v >>> 6) & 63] as number;
    out[o + 3] = B64[v & 63] as number;
    o += 4;
  }
  const v = src[i] as number;
  out[o] = B64[v >>> 2] as number;
  out[o + 1] = B64[(v & 3) << 4] as number;
  out[o + 2] = 0x3d;
  out[o + 3] = 0x3d;
}

/** Copies `src` into `dst` at `o` (short pieces: a loop beats a native call); returns the end. */
function put(src: Uint8Array, dst: Uint8Array, o: number): number {
  for (let i = 0; i < src.length; i++) dst[o + i] = src[i] as number;
  return o + src.length;
}

/** ASCII text as octets. */
function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/**
 * Writes a signed zone's records as text into chunks handed to `write` in order. `add` returns,
 * for an RRSIG whose signature is empty, where its placeholder is (for `fill`), else -1.
 */
export class ZoneTextWriter {
  readonly #write: (chunk: Uint8Array) => void;
  /** Chunks not yet written, oldest first; the last is the one being filled. */
  readonly #chunks: Chunk[] = [];
  #current: Chunk;
  /** Buffers of chunks written out, to fill again (no new memory per chunk). */
  readonly #free: Buffer[] = [];
  /** `owner \t TTL \t IN \t` of the last record, for the name and TTL it was made for. */
  #headName = '';
  #headTtl = -1;
  #head = new Uint8Array(4096);
  #headLength = 0;
  readonly #rrsigPrefixes = new Map<number, RrsigPrefix>();
  #lastPrefix: RrsigPrefix | undefined;
  /** Type mnemonics by number. */
  readonly #typeText: Uint8Array[] = [];
  /** `alg flags iterations - ` of the last NSEC3. */
  #nsec3Head: { alg: number; flags: number; iterations: number; bytes: Uint8Array } | undefined;
  /** Lines (records) and RRSIG lines written so far. */
  records = 0;
  signatures = 0;

  readonly #omit: ((rr: ResourceRecord) => boolean) | undefined;

  /** `omit`: records (not RRSIGs) left out of the text, as an SOA the caller wrote first. */
  constructor(write: (chunk: Uint8Array) => void, omit?: (rr: ResourceRecord) => boolean) {
    this.#write = write;
    this.#omit = omit;
    this.#current = { buf: Buffer.allocUnsafe(CHUNK_OCTETS), start: 0, used: 0, pending: 0 };
    this.#chunks.push(this.#current);
  }

  add(rr: ResourceRecord): number {
    if (rr.type !== RRType.RRSIG && this.#omit?.(rr)) return -1;
    this.records++;
    if (rr.class === RRClass.IN) {
      if (rr.type === RRType.RRSIG) {
        const sig = (rr.data as Partial<RrsigData>).signature;
        if (sig !== undefined && (sig.length === 0 || sig.length === SIGNATURE_OCTETS))
          return this.#rrsig(rr, rr.data as RrsigData, sig);
      } else if (rr.type === RRType.NSEC3) {
        const d = rr.data as Partial<Nsec3Data>;
        if (d.salt?.length === 0 && d.nextHashedOwner?.length === 20) {
          this.#nsec3(rr, d as Nsec3Data);
          return -1;
        }
      }
    }
    const line = formatRecord(rr);
    const c = this.#room(3 * line.length + 1);
    c.used += c.buf.write(line, c.used, 'utf8');
    c.buf[c.used++] = 0x0a;
    return -1;
  }

  /** Writes the signature at `src[at..at+64)` into the placeholder at `position`. */
  fill(position: number, src: Uint8Array, at: number): void {
    const chunks = this.#chunks;
    let k = 0;
    while (k + 1 < chunks.length && (chunks[k + 1] as Chunk).start <= position) k++;
    const c = chunks[k] as Chunk;
    base64Signature(src, at, c.buf, position - c.start);
    c.pending--;
  }

  /** Writes out every full chunk whose placeholders are all filled, in order. */
  flush(): void {
    const chunks = this.#chunks;
    let n = 0;
    while (n < chunks.length - 1 && (chunks[n] as Chunk).pending === 0) {
      const c = chunks[n] as Chunk;
      this.#write(c.buf.subarray(0, c.used));
      if (c.buf.length === CHUNK_OCTETS) this.#free.push(c.buf);
      n++;
    }
    if (n > 0) chunks.splice(0, n);
  }

  /** Writes out the rest; every placeholder must have been filled. */
  end(): void {
    for (const c of this.#chunks) {
      if (c.pending !== 0) throw new Error('zone text: a signature never arrived');
      if (c.used > 0) this.#write(c.buf.subarray(0, c.used));
    }
    this.#chunks.length = 0;
  }

  /** The chunk with `octets` free, starting a new one when the current is too full. */
  #room(octets: number): Chunk {
    const cur = this.#current;
    if (cur.used + octets <= cur.buf.length) return cur;
    const spare = octets <= CHUNK_OCTETS ? this.#free.pop() : undefined;
    const next: Chunk = {
      buf: spare ?? Buffer.allocUnsafe(Math.max(CHUNK_OCTETS, octets)),
      start: cur.start + cur.used,
      used: 0,
      pending: 0,
    };
    this.#chunks.push(next);
    this.#current = next;
    this.flush();
    return next;
  }

  /** `owner \t TTL \t IN \t` of `rr`, kept while names and TTLs repeat. */
  #headOf(rr: ResourceRecord): Uint8Array {
    if (rr.name !== this.#headName || rr.ttl !== this.#headTtl) {
      const text = `${normalizeName(rr.name)}\t${rr.ttl}\tIN\t`;
      if (text.length > this.#head.length) this.#head = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) this.#head[i] = text.charCodeAt(i);
      this.#headLength = text.length;
      this.#headName = rr.name;
      this.#headTtl = rr.ttl;
    }
    return this.#head;
  }

  /** A type's mnemonic. */
  #type(type: number): Uint8Array {
    let text = this.#typeText[type];
    if (!text) {
      text = ascii(typeToString(type));
      this.#typeText[type] = text;
    }
    return text;
  }

  /** `owner \t TTL \t IN \t TYPE \t` into `buf` at `o`; its end. */
  #writeHead(rr: ResourceRecord, buf: Uint8Array, o: number): number {
    const head = this.#headOf(rr);
    const n = this.#headLength;
    for (let i = 0; i < n; i++) buf[o + i] = head[i] as number;
    o = put(this.#type(rr.type), buf, o + n);
    buf[o] = 0x09;
    return o + 1;
  }

  #rrsig(rr: ResourceRecord, d: RrsigData, sig: Uint8Array): number {
    this.signatures++;
    const c = this.#room(rr.name.length * 4 + LINE_ROOM);
    const { buf } = c;
    let o = this.#writeHead(rr, buf, c.used);
    o = put(this.#rrsigPrefix(rr, d), buf, o);
    const at = o;
    buf[o + SIGNATURE_TEXT_OCTETS] = 0x0a;
    c.used = o + SIGNATURE_TEXT_OCTETS + 1;
    if (sig.length === SIGNATURE_OCTETS) {
      base64Signature(sig, 0, buf, at);
      return -1;
    }
    c.pending++;
    return c.start + at;
  }

  /** The RRSIG rdata text but the signature (`formatRecord`'s, with an empty signature). */
  #rrsigPrefix(rr: ResourceRecord, d: RrsigData): Uint8Array {
    const last = this.#lastPrefix;
    if (last && sameRrsigFields(last.d, d)) return last.bytes;
    const key = d.typeCovered * 256 + d.labels;
    let found = this.#rrsigPrefixes.get(key);
    if (!found || !sameRrsigFields(found.d, d)) {
      const blank: ResourceRecord = {
        name: rr.name,
        type: RRType.RRSIG,
        class: rr.class,
        ttl: rr.ttl,
        data: { ...d, signature: new Uint8Array(0) },
      };
      const line = formatRecord(blank);
      let tab = -1;
      for (let i = 0; i < 4; i++) tab = line.indexOf('\t', tab + 1);
      found = { d, bytes: Buffer.from(line.slice(tab + 1), 'utf8') };
      this.#rrsigPrefixes.set(key, found);
    }
    this.#lastPrefix = found;
    return found.bytes;
  }

  /** `alg flags iterations - ` (no salt). */
  #nsec3HeadOf(d: Nsec3Data): Uint8Array {
    const h = this.#nsec3Head;
    if (h && h.alg === d.hashAlgorithm && h.flags === d.flags && h.iterations === d.iterations)
      return h.bytes;
    const bytes = ascii(`${d.hashAlgorithm} ${d.flags} ${d.iterations} - `);
    this.#nsec3Head = { alg: d.hashAlgorithm, flags: d.flags, iterations: d.iterations, bytes };
    return bytes;
  }

  /** NSEC3 without salt and with a SHA-1 (20-octet) next owner. */
  #nsec3(rr: ResourceRecord, d: Nsec3Data): void {
    const c = this.#room(rr.name.length * 4 + LINE_ROOM + d.types.length * 16);
    const { buf } = c;
    let o = put(this.#nsec3HeadOf(d), buf, this.#writeHead(rr, buf, c.used));
    o = base32Next(d.nextHashedOwner, buf, o);
    const { types } = d;
    for (let i = 0; i < types.length; i++) {
      buf[o] = 0x20;
      o = put(this.#type(types[i] as number), buf, o + 1);
    }
    buf[o] = 0x0a;
    c.used = o + 1;
  }
}

/** Base32hex (upper case, RFC 4648 7) of a 20-octet hash into `buf` at `o`; its end. */
function base32Next(h: Uint8Array, buf: Uint8Array, o: number): number {
  // 20 octets = 4 groups of 5 octets = 4 x 8 digits.
  for (let i = 0; i < 20; i += 5) {
    const v1 =
      (((h[i] as number) << 24) | ((h[i + 1] as number) << 16) | ((h[i + 2] as number) << 8)) >>> 0;
    const lo = ((h[i + 3] as number) << 8) | (h[i + 4] as number);
    // 40 bits: v1's top 24 bits, then lo's 16.
    buf[o] = B32_UPPER[v1 >>> 27] as number;
    buf[o + 1] = B32_UPPER[(v1 >>> 22) & 31] as number;
    buf[o + 2] = B32_UPPER[(v1 >>> 17) & 31] as number;
    buf[o + 3] = B32_UPPER[(v1 >>> 12) & 31] as number;
    buf[o + 4] = B32_UPPER[((v1 >>> 7) & 30) | (lo >>> 15)] as number;
    buf[o + 5] = B32_UPPER[(lo >>> 10) & 31] as number;
    buf[o + 6] = B32_UPPER[(lo >>> 5) & 31] as number;
    buf[o + 7] = B32_UPPER[lo & 31] as number;
    o += 8;
  }
  return o;
}
