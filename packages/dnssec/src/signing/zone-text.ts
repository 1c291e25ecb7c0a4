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
  readonly bytes: Buffer;
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

/**
 * Writes a signed zone's records as text into chunks handed to `write` in order. `add` returns,
 * for an RRSIG whose signature is empty, where its placeholder is (for `fill`), else -1.
 */
export class ZoneTextWriter {
  readonly #write: (chunk: Uint8Array) => void;
  /** Chunks not yet written, oldest first; the last is the one being filled. */
  readonly #chunks: Chunk[] = [];
  #current: Chunk;
  #ownerName = '';
  #owner: Buffer = Buffer.alloc(0);
  readonly #rrsigPrefixes = new Map<number, RrsigPrefix>();
  readonly #typeText = new Map<number, Buffer>();
  #ttl = -1;
  #ttlText: Buffer = Buffer.alloc(0);
  /** Lines (records) and RRSIG lines written so far. */
  records = 0;
  signatures = 0;

  constructor(write: (chunk: Uint8Array) => void) {
    this.#write = write;
    this.#current = { buf: Buffer.allocUnsafe(CHUNK_OCTETS), start: 0, used: 0, pending: 0 };
    this.#chunks.push(this.#current);
  }

  /** Octets formatted and not yet written. */
  get buffered(): number {
    const first = this.#chunks[0] as Chunk;
    return this.#current.start + this.#current.used - first.start;
  }

  add(rr: ResourceRecord): number {
    this.records++;
    if (rr.class === RRClass.IN && !('raw' in rr.data)) {
      if (rr.type === RRType.RRSIG) {
        const d = rr.data as RrsigData;
        if (d.signature.length === 0 || d.signature.length === SIGNATURE_OCTETS)
          return this.#rrsig(rr, d);
      } else if (rr.type === RRType.NSEC3) {
        const d = rr.data as Nsec3Data;
        if (d.salt.length === 0 && d.nextHashedOwner.length === 20) {
          this.#nsec3(rr, d);
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
    const next: Chunk = {
      buf: Buffer.allocUnsafe(Math.max(CHUNK_OCTETS, octets)),
      start: cur.start + cur.used,
      used: 0,
      pending: 0,
    };
    this.#chunks.push(next);
    this.#current = next;
    this.flush();
    return next;
  }

  /** `owner \t TTL \t IN \t TYPE \t` into `c`; the owner's text is kept for the next record. */
  #head(c: Chunk, rr: ResourceRecord, typeText: Buffer): void {
    if (rr.name !== this.#ownerName) {
      this.#ownerName = rr.name;
      this.#owner = Buffer.from(normalizeName(rr.name), 'utf8');
    }
    if (rr.ttl !== this.#ttl) {
      this.#ttl = rr.ttl;
      this.#ttlText = Buffer.from(`\t${rr.ttl}\tIN\t`, 'latin1');
    }
    const { buf } = c;
    c.used += this.#owner.copy(buf, c.used);
    c.used += this.#ttlText.copy(buf, c.used);
    c.used += typeText.copy(buf, c.used);
  }

  /** A type's mnemonic followed by `sep` (`\t` after the TYPE field, ` ` in a bitmap). */
  #type(type: number, sep: number): Buffer {
    const key = type * 2 + (sep === 0x09 ? 1 : 0);
    let text = this.#typeText.get(key);
    if (!text) {
      text = Buffer.from(`${typeToString(type)}${String.fromCharCode(sep)}`, 'latin1');
      this.#typeText.set(key, text);
    }
    return text;
  }

  #rrsig(rr: ResourceRecord, d: RrsigData): number {
    this.signatures++;
    const c = this.#room(this.#owner.length + rr.name.length * 4 + LINE_ROOM);
    this.#head(c, rr, this.#type(RRType.RRSIG, 0x09));
    const prefix = this.#rrsigPrefix(rr, d);
    c.used += prefix.copy(c.buf, c.used);
    const at = c.used;
    c.used += SIGNATURE_TEXT_OCTETS;
    c.buf[c.used++] = 0x0a;
    if (d.signature.length === SIGNATURE_OCTETS) {
      base64Signature(d.signature, 0, c.buf, at);
      return -1;
    }
    c.pending++;
    return c.start + at;
  }

  /** The RRSIG rdata text but the signature (`formatRecord`'s, with an empty signature). */
  #rrsigPrefix(rr: ResourceRecord, d: RrsigData): Buffer {
    const key = d.typeCovered * 256 + d.labels;
    const cached = this.#rrsigPrefixes.get(key);
    if (cached && sameRrsigFields(cached.d, d)) return cached.bytes;
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
    const bytes = Buffer.from(line.slice(tab + 1), 'utf8');
    this.#rrsigPrefixes.set(key, { d, bytes });
    return bytes;
  }

  /** NSEC3 without salt and with a SHA-1 (20-octet) next owner. */
  #nsec3(rr: ResourceRecord, d: Nsec3Data): void {
    const c = this.#room(this.#owner.length + rr.name.length * 4 + LINE_ROOM + d.types.length * 16);
    this.#head(c, rr, this.#type(RRType.NSEC3, 0x09));
    const head = `${d.hashAlgorithm} ${d.flags} ${d.iterations} - `;
    c.used += c.buf.write(head, c.used, 'latin1');
    const h = d.nextHashedOwner;
    const { buf } = c;
    let o = c.used;
    // 20 octets = 4 groups of 5 octets = 4 x 8 base32hex digits.
    for (let i = 0; i < 20; i += 5) {
      const hi =
        ((h[i] as number) << 24) | ((h[i + 1] as number) << 16) | ((h[i + 2] as number) << 8);
      const v1 = hi >>> 0;
      const lo = (((h[i + 3] as number) << 8) | (h[i + 4] as number)) >>> 0;
      // 40 bits: v1's top 24 bits then lo's 16 bits.
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
    for (const t of d.types) {
      buf[o++] = 0x20;
      const text = this.#type(t, 0);
      o += text.copy(buf, o, 0, text.length - 1);
    }
    buf[o++] = 0x0a;
    c.used = o;
  }
}
