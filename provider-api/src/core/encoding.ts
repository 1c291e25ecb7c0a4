import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Standard base64 with padding, as the API documents. Encodes the bytes where they are (both
 * database drivers return Buffers): `Buffer.from(bytes)` would copy them first.
 */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes standard base64 (already pattern-checked by the OpenAPI schema). */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const buf = Buffer.from(text, 'base64');
  const out = new Uint8Array(new ArrayBuffer(buf.length));
  out.set(buf);
  return out;
}

/** SHA-256, hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Most imported Ed25519 keys kept (about 200 bytes each plus the KeyObject). */
const KEY_CACHE_SIZE = 10_000;
const importedKeys = new Map<string, KeyObject>();

/**
 * A raw 32-byte Ed25519 public key as a KeyObject, or undefined if it is not one. Imported as a
 * JWK (RFC 8037): the same key as its RFC 8410 SubjectPublicKeyInfo, but about ten times
 * cheaper to import than DER, which goes through OpenSSL's generic decoders (~250 us a key).
 * The KeyObjects of the last {@link KEY_CACHE_SIZE} keys are kept (a key is its bytes, and a
 * KeyObject is immutable), so that the device key of a client signing many requests is
 * imported once, not once a request (~30 us).
 */
export function ed25519PublicKey(raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== 32) return undefined;
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64url');
  const cached = importedKeys.get(x);
  if (cached) return cached;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (importedKeys.size >= KEY_CACHE_SIZE) {
    const oldest = importedKeys.keys().next().value;
    if (oldest !== undefined) importedKeys.delete(oldest);
  }
  importedKeys.set(x, key);
  return key;
}

/** Milliseconds since the epoch as an RFC 3339 timestamp. */
export function isoTime(ms: number | string): string {
  return new Date(Number(ms)).toISOString();
}

/** Copies database bytes (Buffer from either driver) into a fresh ArrayBuffer-backed array. */
export function toArrayBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
}
