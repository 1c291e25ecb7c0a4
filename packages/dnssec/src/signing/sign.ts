// RRSIG creation and verification (RFC 4034 3, RFC 4035 5.3, RFC 6605 4, RFC 8080 4).
import { sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  compareCanonicalNames,
  isSubdomainOf,
  labelCount,
  normalizeName,
  RRType,
} from '@switchboard/dns-wire';
import type { DnskeyData, RecordOf, ResourceRecord, RrsigData } from '@switchboard/dns-wire';
import { DnssecAlgorithm } from '../core/constants.js';
import type { RrsigRecord, SignOptions, SigningKey, VerifyResult } from '../core/constants.js';
import { runSync } from '../core/crypto-ops.js';
import { DnssecError } from '../core/errors.js';
import { nodeSyncDnssecCrypto } from '../crypto/node-crypto.js';
import { rrsigSignedData, toSerialTime } from '../core/rrsig-data.js';
import { rrsetProblem, verifyRrsigOp } from '../validation/verify-core.js';

export { compareUint8, rrsigSignedData, toSerialTime } from '../core/rrsig-data.js';
export { isAlgorithmSupported } from '../validation/verify-core.js';

/** ECDSA signing options per key, made once (raw r||s as DNSSEC wants, RFC 6605 4). */
const ecdsaOptions = new WeakMap<KeyObject, { key: KeyObject; dsaEncoding: 'ieee-p1363' }>();

/** Raw signature bytes in the DNSSEC encoding for the key's algorithm. */
export function signBytes(key: SigningKey, data: Uint8Array): Uint8Array {
  if (key.algorithm === DnssecAlgorithm.ECDSAP256SHA256) {
    let options = ecdsaOptions.get(key.privateKey);
    if (!options) {
      options = { key: key.privateKey, dsaEncoding: 'ieee-p1363' };
      ecdsaOptions.set(key.privateKey, options);
    }
    // A fresh Buffer per call (a Uint8Array): no copy needed.
    return cryptoSign('sha256', data, options);
  }
  return cryptoSign(null, data, key.privateKey);
}

/**
 * Signs an RRset with one key. The RRset must share owner, class and type; the owner must be at or
 * below `signer`. Inception/expiration come from the caller (the clock is a parameter).
 *
 * @example
 * const rrsig = signRrset(naptrs, zsk, { signer: apex, inception, expiration });
 */
export function signRrset(
  rrset: readonly ResourceRecord[],
  key: SigningKey,
  options: SignOptions,
): RrsigRecord {
  const problem = rrsetProblem(rrset);
  if (problem) throw new DnssecError('bad-option', `cannot sign: ${problem}`);
  const first = rrset[0] as ResourceRecord;
  if (first.type === RRType.RRSIG)
    throw new DnssecError('bad-option', 'RRSIG RRsets are not signed');
  if (!isSubdomainOf(first.name, options.signer))
    throw new DnssecError('bad-option', 'RRset owner is not under the signer name');
  const data: RrsigData = {
    typeCovered: first.type,
    algorithm: key.algorithm,
    labels: labelCount(first.name),
    originalTtl: options.originalTtl ?? first.ttl,
    expiration: toSerialTime(options.expiration),
    inception: toSerialTime(options.inception),
    keyTag: key.keyTag,
    signerName: normalizeName(options.signer),
    signature: new Uint8Array(0),
  };
  const signature = signBytes(key, rrsigSignedData(data, rrset));
  return {
    name: normalizeName(first.name),
    type: RRType.RRSIG,
    class: first.class,
    ttl: first.ttl,
    data: { ...data, signature },
  };
}

/**
 * Checks one RRSIG over one RRset with one DNSKEY at time `now` (RFC 4035 5.3.1) with
 * node:crypto. The caller decides that `dnskey` belongs to the signer zone (see
 * `validateResponse`).
 */
export function verifyRrsig(
  rrset: readonly ResourceRecord[],
  rrsig: RrsigRecord | RecordOf<typeof RRType.RRSIG>,
  dnskey: DnskeyData,
  now: Date,
): VerifyResult {
  return runSync(verifyRrsigOp(rrset, rrsig, dnskey, now), nodeSyncDnssecCrypto);
}

/** Canonical name order helper re-exported for the validator. */
export const compareNames = compareCanonicalNames;
