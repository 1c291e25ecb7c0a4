// NSEC3 hashing (RFC 5155 5) and owner names.
import { createHash } from 'node:crypto';
import { base32hexEncode, canonicalName, encodeName, normalizeName } from '@switchboard/dns-wire';
import type { DomainName } from '@switchboard/dns-wire';
import { DnssecError } from './errors.js';

/** Iterations above this are refused outright (RFC 9276 3.2 recommends 0). */
const HARD_ITERATION_LIMIT = 2500;

/** RFC 5155 5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt). SHA-1. */
export function nsec3HashWire(
  wireName: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Uint8Array {
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > HARD_ITERATION_LIMIT)
    throw new DnssecError('bad-option', 'NSEC3 iterations out of range');
  let digest = createHash('sha1').update(wireName).update(salt).digest();
  for (let i = 0; i < iterations; i++)
    digest = createHash('sha1').update(digest).update(salt).digest();
  return new Uint8Array(digest);
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
