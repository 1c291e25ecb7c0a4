// NSEC3 hashing (RFC 5155 5) and owner names.
import { hash } from 'node:crypto';
import { base32hexEncode, canonicalName, encodeName, normalizeName } from '@switchboard/dns-wire';
import type { DomainName } from '@switchboard/dns-wire';
import { DnssecError } from '../core/errors.js';

/** Iterations above this are refused outright (RFC 9276 3.2 recommends 0). */
const HARD_ITERATION_LIMIT = 2500;

function sha1(data: Uint8Array): Uint8Array {
  const d = hash('sha1', data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function withSalt(data: Uint8Array, salt: Uint8Array): Uint8Array {
  if (salt.length === 0) return data;
  const joined = new Uint8Array(data.length + salt.length);
  joined.set(data);
  joined.set(salt, data.length);
  return joined;
}

/** RFC 5155 5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt). SHA-1. */
export function nsec3HashWire(
  wireName: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Uint8Array {
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > HARD_ITERATION_LIMIT)
    throw new DnssecError('bad-option', 'NSEC3 iterations out of range');
  // One-shot hashes (no Hash object per step); no copy when there is no salt (RFC 9276).
  let digest = sha1(withSalt(wireName, salt));
  for (let i = 0; i < iterations; i++) digest = sha1(withSalt(digest, salt));
  return digest;
}

/** The NSEC3 hash of a name (canonical wire form, lowercased). */
export function nsec3Hash(name: DomainName, salt: Uint8Array, iterations: number): Uint8Array {
  return nsec3HashWire(encodeName(canonicalName(name)), salt, iterations);
}

/** `<base32hex(hash)>.<zone>` : the NSEC3 owner name for `name` in `zone`. */
export function nsec3OwnerName(
  name: DomainName,
  zone: DomainName,
  salt: Uint8Array,
  iterations: number,
): DomainName {
  const z = normalizeName(zone);
  return `${base32hexEncode(nsec3Hash(name, salt, iterations))}.${z === '.' ? '' : z}`;
}
