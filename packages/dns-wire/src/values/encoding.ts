// Text encodings used by presentation formats: hex, base64, base32hex (RFC 4648 7, no padding).
import { DnsWireError } from '../errors.js';
import { base64Decode, base64Encode, hexDecode, hexEncode } from './encoding-portable.js';

/** Node's Buffer when the runtime has one (native speed for zone files); browsers have none,
 *  so nothing here imports `node:buffer`. */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(b: ArrayBufferLike, offset: number, length: number): { toString(enc: string): string };
      from(text: string, enc: string): Uint8Array;
    };
  }
).Buffer;

export function toHex(b: Uint8Array): string {
  if (NodeBuffer)
    return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex').toUpperCase();
  return hexEncode(b);
}

export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text))
    throw new DnsWireError('bad-value', -1, 'invalid hex');
  return hexDecode(text);
}

export function toBase64(b: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  return base64Encode(b);
}

export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new DnsWireError('bad-value', -1, 'invalid base64');
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(text, 'base64'));
  return base64Decode(text);
}

const B32 = '0123456789abcdefghijklmnopqrstuv';

/** Two base32hex digits for each 10-bit value. */
function pairTable(digits: string): string[] {
  const pairs: string[] = [];
  for (let v = 0; v < 1024; v++) pairs.push(`${digits[v >>> 5]}${digits[v & 31]}`);
  return pairs;
}
const B32_PAIRS = pairTable(B32);
const B32_UPPER = B32.toUpperCase();
const B32_UPPER_PAIRS = pairTable(B32_UPPER);

/**
 * Base32hex without padding: each 5 octets as four 10-bit table lookups (an NSEC3 hash is four
 * such groups), the rest bit by bit.
 */
function base32hexWith(bytes: Uint8Array, digits: string, pairs: readonly string[]): string {
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 5 <= n; i += 5) {
    const b1 = bytes[i + 1] as number;
    const b2 = bytes[i + 2] as number;
    const b3 = bytes[i + 3] as number;
    out +=
      (pairs[((bytes[i] as number) << 2) | (b1 >>> 6)] as string) +
      (pairs[((b1 & 63) << 4) | (b2 >>> 4)] as string) +
      (pairs[((b2 & 15) << 6) | (b3 >>> 2)] as string) +
      (pairs[((b3 & 3) << 8) | (bytes[i + 4] as number)] as string);
  }
  let buffer = 0;
  let bits = 0;
  for (; i < n; i++) {
    buffer = (buffer << 8) | (bytes[i] as number);
    bits += 8;
    while (bits >= 5) {
      out += digits[(buffer >>> (bits - 5)) & 31] as string;
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += digits[(buffer << (5 - bits)) & 31] as string;
  return out;
}

/** RFC 4648 section 7 base32hex, lowercase, without padding (as NSEC3 owner labels use it). */
export function base32hexEncode(bytes: Uint8Array): string {
  return base32hexWith(bytes, B32, B32_PAIRS);
}

/** Upper-case base32hex without padding (an NSEC3 next hashed owner in presentation format). */
export function base32hexEncodeUpper(bytes: Uint8Array): string {
  return base32hexWith(bytes, B32_UPPER, B32_UPPER_PAIRS);
}

/** Decodes base32hex (either case, padding optional). */
export function base32hexDecode(text: string): Uint8Array {
  const s = text.replace(/=+$/, '').toLowerCase();
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new DnsWireError('bad-value', -1, 'invalid base32hex');
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
      buffer &= (1 << bits) - 1;
    }
  }
  if (buffer !== 0) throw new DnsWireError('bad-value', -1, 'invalid base32hex padding bits');
  return Uint8Array.from(out);
}
