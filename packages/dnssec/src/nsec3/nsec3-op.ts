// NSEC3 hashing (RFC 5155 5) as crypto requests, for validators on injected crypto (the
// synchronous node:crypto form for zone signing is nsec3.ts).
import { canonicalName, encodeName } from '@switchboard/dns-wire';
import type { DomainName } from '@switchboard/dns-wire';
import type { Op } from '../core/crypto-ops.js';
import { digestOp } from '../core/crypto-ops.js';
import { DnssecError } from '../core/errors.js';

/** Iterations above this are refused outright (RFC 9276 3.2 recommends 0). */
export const HARD_ITERATION_LIMIT = 2500;

function withSalt(data: Uint8Array, salt: Uint8Array): Uint8Array {
  if (salt.length === 0) return data;
  const joined = new Uint8Array(data.length + salt.length);
  joined.set(data);
  joined.set(salt, data.length);
  return joined;
}

/** RFC 5155 5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt). */
export function* nsec3HashOp(
  name: DomainName,
  salt: Uint8Array,
  iterations: number,
): Op<Uint8Array> {
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > HARD_ITERATION_LIMIT)
    throw new DnssecError('bad-option', 'NSEC3 iterations out of range');
  let digest = yield* digestOp('SHA-1', withSalt(encodeName(canonicalName(name)), salt));
  for (let i = 0; i < iterations; i++) digest = yield* digestOp('SHA-1', withSalt(digest, salt));
  return digest;
}
