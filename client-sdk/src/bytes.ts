/** Byte helpers that run in any JavaScript runtime (no Node `Buffer`). */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Node's Buffer where the runtime has one (its base64 is native); absent in browsers. */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(
        buffer: ArrayBufferLike,
        offset: number,
        length: number,
      ): { toString(enc: string): string };
      from(text: string, enc: string): Uint8Array;
    };
  }
).Buffer;

/** RFC 4648 §4 base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer)
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1] ?? 0;
    const c = bytes[i + 2] ?? 0;
    const n = (a << 16) | (b << 8) | c;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=';
    out += i + 2 < bytes.length ? B64[n & 63]! : '=';
  }
  return out;
}

/** RFC 4648 §5 base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `fromBase64` with Node's decoder, for checked standard-alphabet text without padding. */
function nodeFromBase64(unpadded: string): Uint8Array<ArrayBuffer> | undefined {
  const rest = unpadded.length % 4;
  if (rest !== 0) {
    // The last character's low bits beyond the data must be zero (canonical encoding).
    const last = B64.indexOf(unpadded[unpadded.length - 1] as string);
    if ((last & (rest === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  return new Uint8Array(NodeBuffer!.from(unpadded, 'base64'));
}

/**
 * Decodes base64 or base64url (padding optional). Returns `undefined` for anything that is not
 * canonical base64, so callers can raise their own typed error.
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  const s = text.replace(/-/g, '+').replace(/_/g, '/');
  const unpadded = s.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(unpadded) || unpadded.length % 4 === 1) return undefined;
  if (s.length !== unpadded.length && s.length % 4 !== 0) return undefined;
  if (NodeBuffer) return nodeFromBase64(unpadded);
  const out = new Uint8Array(Math.floor((unpadded.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of unpadded) {
    value = (value << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  // Non-zero leftover bits mean a non-canonical encoding.
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concatBytes(...parts: ReadonlyArray<Uint8Array>): Uint8Array<ArrayBuffer> {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time comparison (length is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * `bytes` itself when it is backed by an ArrayBuffer (not a SharedArrayBuffer), else a copy:
 * for libsignal calls that read their input before they return.
 */
export function arrayBufferBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : copyBytes(bytes);
}

/** Copies into a fresh ArrayBuffer-backed array (libsignal wants `Uint8Array<ArrayBuffer>`). */
export function copyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return copyBytes(encoder.encode(text));
}

/** Strict UTF-8 decode; `undefined` on invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

export async function sha256(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', copyBytes(data)));
}

/** Minimal bounds-checked reader; `fail` builds the caller's typed error. */
export class ByteReader {
  #offset = 0;
  readonly #bytes: Uint8Array;
  readonly #fail: (what: string, offset: number) => Error;

  constructor(bytes: Uint8Array, fail: (what: string, offset: number) => Error) {
    this.#bytes = bytes;
    this.#fail = fail;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  u8(what: string): number {
    if (this.remaining < 1) throw this.#fail(what, this.#offset);
    return this.#bytes[this.#offset++]!;
  }

  u16(what: string): number {
    const hi = this.u8(what);
    return (hi << 8) | this.u8(what);
  }

  u32(what: string): number {
    return this.u16(what) * 0x10000 + this.u16(what);
  }

  bytes(n: number, what: string): Uint8Array<ArrayBuffer> {
    if (n < 0 || this.remaining < n) throw this.#fail(what, this.#offset);
    const out = copyBytes(this.#bytes.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    return out;
  }

  rest(): Uint8Array<ArrayBuffer> {
    return this.bytes(this.remaining, 'rest');
  }
}

/** Growable writer for the binary formats in this package. */
export class ByteWriter {
  readonly #parts: number[] = [];

  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }

  u32(v: number): this {
    return this.u16(Math.floor(v / 0x10000)).u16(v % 0x10000);
  }

  bytes(b: Uint8Array): this {
    for (const x of b) this.#parts.push(x);
    return this;
  }

  finish(): Uint8Array<ArrayBuffer> {
    return Uint8Array.from(this.#parts);
  }
}
