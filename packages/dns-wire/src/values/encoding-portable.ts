// Hex and base64 in plain JavaScript, for runtimes without Node's Buffer (browsers); encoding.ts
// uses Buffer where there is one. Inputs are checked by the callers in encoding.ts.

const HEX = '0123456789ABCDEF';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Upper-case hex. */
export function hexEncode(b: Uint8Array): string {
  let out = '';
  for (const x of b) out += (HEX[x >> 4] as string) + (HEX[x & 15] as string);
  return out;
}

/** Hex of even length, either case (checked by the caller). */
export function hexDecode(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** RFC 4648 4 base64 with padding. */
export function base64Encode(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = ((b[i] ?? 0) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    const chars = Math.ceil((Math.min(3, b.length - i) * 8) / 6);
    for (let c = 0; c < 4; c++) out += c < chars ? B64[(n >>> (18 - 6 * c)) & 63] : '=';
  }
  return out;
}

/** Base64 (alphabet and length checked by the caller); bits past the last octet are ignored,
 *  as Node's Buffer ignores them. */
export function base64Decode(text: string): Uint8Array {
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
