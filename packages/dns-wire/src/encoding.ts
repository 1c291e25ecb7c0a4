// Text encodings used by presentation formats: hex, base64, base32hex (RFC 4648 7, no padding).
import { DnsWireError } from './errors.js';

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

const HEX = '0123456789ABCDEF';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function toHex(b: Uint8Array): string {
  if (NodeBuffer)
    return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex').toUpperCase();
  let out = '';
  for (const x of b) out += (HEX[x >> 4] as string) + (HEX[x & 15] as string);
  return out;
}

export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text))
    throw new DnsWireError('bad-value', -1, 'invalid hex');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(b: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = ((b[i] ?? 0) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    const chars = Math.ceil((Math.min(3, b.length - i) * 8) / 6);
    for (let c = 0; c < 4; c++) out += c < chars ? B64[(n >>> (18 - 6 * c)) & 63] : '=';
  }
  return out;
}

export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new DnsWireError('bad-value', -1, 'invalid base64');
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(text, 'base64'));
  const body = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of body) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

const B32 = '0123456789abcdefghijklmnopqrstuv';

/** RFC 4648 section 7 base32hex, lowercase, without padding (as NSEC3 owner labels use it). */
export function base32hexEncode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(buffer << (5 - bits)) & 31];
  return out;
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
