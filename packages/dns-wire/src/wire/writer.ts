// A growable output buffer with optional name compression. One per encode call: no shared state.
import { DnsWireError } from '../errors.js';
import { lowerLabels, nameToLabels, labelToString, simpleAbsoluteName } from '../values/name.js';
import type { DomainName } from '../types.js';

export interface WriterOptions {
  /** Compress names where the codec allows it (RFC 1035 4.1.4). */
  readonly compress: boolean;
  /** Lowercase names where RFC 4034 6.2 / RFC 6840 5.1 ask for it (canonical form). */
  readonly canonical: boolean;
}

export class Writer {
  buf: Uint8Array;
  pos = 0;
  readonly options: WriterOptions;
  /** Suffix key -> offset of an earlier occurrence (only offsets < 0x4000 are reachable). */
  readonly #names = new Map<string, number>();

  constructor(options: WriterOptions, initialSize = 512) {
    this.options = options;
    this.buf = new Uint8Array(initialSize);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff)
      throw new DnsWireError('bad-value', -1, 'value does not fit 8 bits');
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff)
      throw new DnsWireError('bad-value', -1, 'value does not fit 16 bits');
    this.ensure(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new DnsWireError('bad-value', -1, 'value does not fit 32 bits');
    this.ensure(4);
    this.buf[this.pos++] = v >>> 24;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  u48(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffffffff)
      throw new DnsWireError('bad-value', -1, 'value does not fit 48 bits');
    this.u16(Math.floor(v / 0x100000000));
    this.u32(v % 0x100000000);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A character-string (RFC 1035 3.3): length octet + at most 255 octets. */
  charString(b: Uint8Array): void {
    if (b.length > 255) throw new DnsWireError('bad-value', -1, 'character-string over 255 octets');
    this.u8(b.length);
    this.bytes(b);
  }

  /**
   * Writes a name. `compressible`: the name may use and register pointers (owner names and
   * RFC 3597 section 4 well-known rdata names). `canonicalizable`: lowercased in canonical mode.
   */
  name(name: DomainName, compressible: boolean, canonicalizable: boolean): void {
    const compress = compressible && this.options.compress;
    let simple = simpleAbsoluteName(name);
    if (simple !== undefined) {
      if (canonicalizable && this.options.canonical) simple = simple.toLowerCase();
      this.#simpleName(simple, compress);
      return;
    }
    let labels = nameToLabels(name);
    if (canonicalizable && this.options.canonical) labels = lowerLabels(labels);
    if (!compress) {
      for (const l of labels) {
        this.u8(l.length);
        this.bytes(l);
      }
      this.u8(0);
      return;
    }
    const keys: string[] = [];
    let key = '';
    for (let i = labels.length - 1; i >= 0; i--) {
      key = labelToString(labels[i] as Uint8Array) + '.' + key;
      keys[i] = key;
    }
    for (let i = 0; i < labels.length; i++) {
      const found = this.#names.get(keys[i] as string);
      if (found !== undefined) {
        this.u16(0xc000 | found);
        return;
      }
      if (this.pos < 0x4000) this.#names.set(keys[i] as string, this.pos);
      const l = labels[i] as Uint8Array;
      this.u8(l.length);
      this.bytes(l);
    }
    this.u8(0);
  }

  /**
   * A name already known to be absolute and in normal form without escapes (one octet per
   * character): written straight from the string. Its compression keys are its suffixes, the
   * same strings the general path builds from labels.
   */
  #simpleName(name: string, compress: boolean): void {
    this.ensure(name.length + 1);
    let start = 0;
    while (start < name.length) {
      if (compress) {
        const found = this.#names.get(start === 0 ? name : name.slice(start));
        if (found !== undefined) {
          this.u16(0xc000 | found);
          return;
        }
        if (this.pos < 0x4000) this.#names.set(start === 0 ? name : name.slice(start), this.pos);
      }
      const dot = name.indexOf('.', start);
      const buf = this.buf;
      buf[this.pos++] = dot - start;
      for (let i = start; i < dot; i++) buf[this.pos++] = name.charCodeAt(i);
      start = dot + 1;
    }
    this.buf[this.pos++] = 0;
  }

  /** Forgets compression targets at or after `pos` (used when a record is rolled back). */
  rollback(pos: number): void {
    this.pos = pos;
    for (const [k, v] of this.#names) if (v >= pos) this.#names.delete(k);
  }

  setU16(at: number, v: number): void {
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v & 0xff;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
