// Validation on injected asynchronous crypto (WebCrypto in browsers, or node:crypto wrapped);
// the same logic as the synchronous validate.ts (validate-core.ts). No Node built-ins.
import type { ResourceRecord } from '@switchboard/dns-wire';
import type {
  DnskeyValidation,
  TrustAnchor,
  ValidateResponseInput,
  ValidationResult,
} from '../core/constants.js';
import type { DnssecCrypto } from '../core/crypto-ops.js';
import { runAsync } from '../core/crypto-ops.js';
import { bogus, isMalformedInput, validateDnskeyOp, validateResponseOp } from './validate-core.js';

/** {@link validateDnskeyRrset} with `crypto` answering the signature and digest checks. */
export async function validateDnskeyRrsetWith(
  crypto: DnssecCrypto,
  anchor: TrustAnchor,
  dnskeyRrset: readonly ResourceRecord[],
  now: Date,
): Promise<DnskeyValidation> {
  try {
    return await runAsync(validateDnskeyOp(anchor, dnskeyRrset, now), crypto);
  } catch (err) {
    if (isMalformedInput(err)) return { status: 'bogus', reason: 'malformed-input' };
    throw err;
  }
}

/**
 * {@link validateResponse} with `crypto` answering the signature and digest checks.
 *
 * @example
 * const r = await validateResponseWith(webCryptoDnssec(), { trustAnchor, dnskeyRrset, response, qname, qtype, now });
 */
export async function validateResponseWith(
  crypto: DnssecCrypto,
  input: ValidateResponseInput,
): Promise<ValidationResult> {
  try {
    return await runAsync(validateResponseOp(input), crypto);
  } catch (err) {
    if (isMalformedInput(err)) return bogus('malformed-input');
    throw err;
  }
}
