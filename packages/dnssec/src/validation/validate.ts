// Synchronous validation on node:crypto; the logic is validate-core.ts (see validate-async.ts
// for injected, asynchronous crypto such as WebCrypto).
import type { ResourceRecord } from '@switchboard/dns-wire';
import type {
  DnskeyValidation,
  TrustAnchor,
  ValidateResponseInput,
  ValidationResult,
} from '../core/constants.js';
import { runSync } from '../core/crypto-ops.js';
import { nodeSyncDnssecCrypto } from '../crypto/node-crypto.js';
import { bogus, isMalformedInput, validateDnskeyOp, validateResponseOp } from './validate-core.js';

/**
 * Validates the apex DNSKEY RRset against a trust anchor: some DNSKEY must match the anchor (DS
 * digest or identical DNSKEY) and must have signed the DNSKEY RRset.
 */
export function validateDnskeyRrset(
  anchor: TrustAnchor,
  dnskeyRrset: readonly ResourceRecord[],
  now: Date,
): DnskeyValidation {
  try {
    return runSync(validateDnskeyOp(anchor, dnskeyRrset, now), nodeSyncDnssecCrypto);
  } catch (err) {
    if (isMalformedInput(err)) return { status: 'bogus', reason: 'malformed-input' };
    throw err;
  }
}

/**
 * Validates a response to (qname, qtype) from the trust anchor down, ignoring the AD bit.
 *
 * @example
 * const r = validateResponse({ trustAnchor: { zone, ds }, dnskeyRrset, response, qname, qtype, now });
 * if (r.status === 'secure') use(r.rrset);
 */
export function validateResponse(input: ValidateResponseInput): ValidationResult {
  try {
    return runSync(validateResponseOp(input), nodeSyncDnssecCrypto);
  } catch (err) {
    if (isMalformedInput(err)) return bogus('malformed-input');
    throw err;
  }
}
