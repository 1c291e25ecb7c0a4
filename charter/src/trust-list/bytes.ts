// Byte helpers without Node's Buffer (the verification path runs in browsers too).

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Standard base64 with padding (RFC 4648 4). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.ceil((Math.min(3, bytes.length - i) * 8) / 6);
    for (let c = 0; c < 4; c++) out += c < chars ? B64[(n >>> (18 - 6 * c)) & 63] : '=';
  }
  return out;
}

/**
 * Decodes standard padded base64; undefined for anything that is not exactly the canonical
 * encoding of some bytes (so one value has one spelling).
 */
export function fromBase64Strict(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let c = 0; c < 4; c++) {
      const ch = text[i + c] as string;
      const v = ch === '=' && i + 4 === text.length && c >= 4 - pad ? 0 : B64_INDEX.get(ch);
      if (v === undefined) return undefined;
      n = (n << 6) | v;
    }
    for (let b = 0; b < 3 && o < out.length; b++) out[o++] = (n >>> (16 - 8 * b)) & 0xff;
  }
  return toBase64(out) === text ? out : undefined;
}

/** UTF-8 length of a string. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
