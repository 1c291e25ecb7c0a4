// RRSIG verification (RFC 4035 5.3.1) as a crypto-requesting computation: the checks are pure,
// the signature itself is asked of whichever crypto the driver holds (see core/crypto-ops.ts).
import { isSubdomainOf, labelCount, nameLabels, namesEqual, RRType } from '@switchboard/dns-wire';
import type { DnskeyData, RecordOf, ResourceRecord } from '@switchboard/dns-wire';
import { DnssecAlgorithm, DnskeyFlag } from '../core/constants.js';
import type { RrsigRecord, VerifyFailure, VerifyResult } from '../core/constants.js';
import type { Op } from '../core/crypto-ops.js';
import { verifyOp } from '../core/crypto-ops.js';
import { computeKeyTag } from '../keys/key-data.js';
import { rrsigSignedData, toSerialTime } from '../core/rrsig-data.js';

const SUPPORTED_VERIFY: ReadonlySet<number> = new Set([8, 10, 13, 14, 15]);

/** True if `verifyRrsig` can check signatures of this algorithm. */
export function isAlgorithmSupported(algorithm: number): boolean {
  return SUPPORTED_VERIFY.has(algorithm);
}

/** Signature lengths fixed by the algorithm (RFC 6605 4, RFC 8080 3); RSA varies. */
const SIGNATURE_LENGTH: Readonly<Record<number, number>> = {
  [DnssecAlgorithm.ECDSAP256SHA256]: 64,
  [DnssecAlgorithm.ECDSAP384SHA384]: 96,
  [DnssecAlgorithm.ED25519]: 64,
};

/** Why an RRset cannot be signed or verified as one, if it cannot. */
export function rrsetProblem(rrset: readonly ResourceRecord[]): VerifyFailure | undefined {
  const first = rrset[0];
  if (!first) return 'empty-rrset';
  for (const rr of rrset)
    if (rr.type !== first.type || rr.class !== first.class || !namesEqual(rr.name, first.name))
      return 'rrset-inconsistent';
  return undefined;
}

/** Serial-number "a before b" (RFC 1982) on 32-bit times. */
function serialDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** The checks of RFC 4035 5.3.1 that need no crypto. */
function precheck(
  rrset: readonly ResourceRecord[],
  rrsig: RrsigRecord | RecordOf<typeof RRType.RRSIG>,
  dnskey: DnskeyData,
  now: Date,
): VerifyFailure | undefined {
  const problem = rrsetProblem(rrset);
  if (problem) return problem;
  const first = rrset[0] as ResourceRecord;
  const s = rrsig.data;
  if (!namesEqual(rrsig.name, first.name) || rrsig.class !== first.class)
    return 'rrset-inconsistent';
  if (s.typeCovered !== first.type) return 'type-mismatch';
  if (!isSubdomainOf(first.name, s.signerName)) return 'wrong-signer';
  if (s.labels > labelCount(first.name)) return 'labels-invalid';
  if (s.algorithm !== dnskey.algorithm) return 'algorithm-mismatch';
  if (s.keyTag !== computeKeyTag(dnskey)) return 'key-tag-mismatch';
  if (dnskey.protocol !== 3 || (dnskey.flags & DnskeyFlag.ZONE) === 0) return 'dnskey-not-zone-key';
  if (dnskey.flags & DnskeyFlag.REVOKE && first.type !== RRType.DNSKEY) return 'dnskey-revoked';
  const t = toSerialTime(now);
  if (serialDiff(s.expiration, t) < 0) return 'signature-expired';
  if (serialDiff(s.inception, t) > 0) return 'signature-not-yet-valid';
  if (!isAlgorithmSupported(s.algorithm)) return 'algorithm-unsupported';
  const length = SIGNATURE_LENGTH[s.algorithm];
  if (length !== undefined && s.signature.length !== length) return 'signature-invalid';
  return undefined;
}

/**
 * Checks one RRSIG over one RRset with one DNSKEY at time `now` (RFC 4035 5.3.1). The caller
 * decides that `dnskey` belongs to the signer zone (see `validateResponse`).
 */
export function* verifyRrsigOp(
  rrset: readonly ResourceRecord[],
  rrsig: RrsigRecord | RecordOf<typeof RRType.RRSIG>,
  dnskey: DnskeyData,
  now: Date,
): Op<VerifyResult> {
  const failure = precheck(rrset, rrsig, dnskey, now);
  if (failure) return { ok: false, reason: failure };
  const s = rrsig.data;
  const data = rrsigSignedData(s, rrset);
  if (!(yield* verifyOp(s.algorithm, dnskey.publicKey, data, s.signature)))
    return { ok: false, reason: 'signature-invalid' };
  const first = rrset[0] as ResourceRecord;
  if (s.labels < labelCount(first.name)) {
    const all = nameLabels(first.name);
    return { ok: true, wildcard: ['*', ...all.slice(all.length - s.labels)].join('.') + '.' };
  }
  return { ok: true };
}
