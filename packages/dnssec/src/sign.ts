// RRSIG creation and verification (RFC 4034 3, RFC 4035 5.3, RFC 6605 4, RFC 8080 4).
import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  canonicalName,
  canonicalRdata,
  compareCanonicalNames,
  encodeName,
  isSubdomainOf,
  labelCount,
  namesEqual,
  nameLabels,
  normalizeName,
  rdataCodec,
  RRType,
} from '@switchboard/dns-wire';
import type {
  DnskeyData,
  DomainName,
  RecordOf,
  ResourceRecord,
  RrsigData,
} from '@switchboard/dns-wire';
import { DnssecAlgorithm, DnskeyFlag } from './constants.js';
import type {
  RrsigRecord,
  SignOptions,
  SigningKey,
  VerifyFailure,
  VerifyResult,
} from './constants.js';
import { DnssecError } from './errors.js';
import { computeKeyTag, publicKeyFromDnskey } from './keys.js';

/** Seconds since the epoch modulo 2^32 (RFC 4034 3.1.5). */
export function toSerialTime(d: Date): number {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new DnssecError('bad-option', 'invalid date');
  return Math.floor(ms / 1000) >>> 0;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** RRSIG rdata without the signature, signer name canonical (RFC 4034 3.1.8.1). */
function rrsigPrefix(rrsig: RrsigData): Uint8Array {
  const full = rdataCodec(RRType.RRSIG).encode({
    ...rrsig,
    signerName: canonicalName(rrsig.signerName),
    signature: new Uint8Array(0),
  });
  return full;
}

/** The canonical owner used in the signed data: `*.` + the rightmost `labels` labels if expanded. */
function signedOwner(owner: DomainName, labels: number): Uint8Array {
  const all = nameLabels(owner);
  const count = labelCount(owner);
  let name = owner;
  if (labels < count) name = ['*', ...all.slice(all.length - labels)].join('.') + '.';
  return encodeName(canonicalName(name));
}

/**
 * The octets an RRSIG signs (RFC 4034 3.1.8.1): RRSIG rdata (minus signature) followed by the
 * RRset in canonical form and order, each with the original TTL.
 */
export function rrsigSignedData(rrsig: RrsigData, rrset: readonly ResourceRecord[]): Uint8Array {
  const first = rrset[0];
  if (!first) return rrsigPrefix(rrsig);
  const owner = signedOwner(first.name, rrsig.labels);
  const fixed = new Uint8Array(10);
  const dv = new DataView(fixed.buffer);
  dv.setUint16(0, first.type);
  dv.setUint16(2, first.class);
  dv.setUint32(4, rrsig.originalTtl);
  const rdatas = rrset.map((rr) => canonicalRdata(rr)).sort(compareUint8);
  const parts: Uint8Array[] = [rrsigPrefix(rrsig)];
  let prev: Uint8Array | undefined;
  for (const rd of rdatas) {
    if (prev && compareUint8(prev, rd) === 0) continue; // RFC 4034 6.3: duplicates removed
    prev = rd;
    const head = fixed.slice();
    new DataView(head.buffer).setUint16(8, rd.length);
    parts.push(owner, head, rd);
  }
  return concat(parts);
}

export function compareUint8(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

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

function verifyBytes(
  algorithm: number,
  publicKey: KeyObject,
  data: Uint8Array,
  sig: Uint8Array,
): boolean {
  try {
    switch (algorithm) {
      case DnssecAlgorithm.ECDSAP256SHA256:
        return (
          sig.length === 64 &&
          cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)
        );
      case DnssecAlgorithm.ECDSAP384SHA384:
        return (
          sig.length === 96 &&
          cryptoVerify('sha384', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)
        );
      case DnssecAlgorithm.ED25519:
        return sig.length === 64 && cryptoVerify(null, data, publicKey, sig);
      case DnssecAlgorithm.RSASHA256:
        return cryptoVerify('sha256', data, publicKey, sig);
      case DnssecAlgorithm.RSASHA512:
        return cryptoVerify('sha512', data, publicKey, sig);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

const SUPPORTED_VERIFY: ReadonlySet<number> = new Set([8, 10, 13, 14, 15]);

/** True if `verifyRrsig` can check signatures of this algorithm. */
export function isAlgorithmSupported(algorithm: number): boolean {
  return SUPPORTED_VERIFY.has(algorithm);
}

function checkRrset(rrset: readonly ResourceRecord[]): VerifyFailure | undefined {
  const first = rrset[0];
  if (!first) return 'empty-rrset';
  for (const rr of rrset)
    if (rr.type !== first.type || rr.class !== first.class || !namesEqual(rr.name, first.name))
      return 'rrset-inconsistent';
  return undefined;
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
  const problem = checkRrset(rrset);
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

/** Serial-number "a before b" (RFC 1982) on 32-bit times. */
function serialDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Checks one RRSIG over one RRset with one DNSKEY at time `now` (RFC 4035 5.3.1). The caller
 * decides that `dnskey` belongs to the signer zone (see `validateResponse`).
 */
export function verifyRrsig(
  rrset: readonly ResourceRecord[],
  rrsig: RrsigRecord | RecordOf<typeof RRType.RRSIG>,
  dnskey: DnskeyData,
  now: Date,
): VerifyResult {
  const problem = checkRrset(rrset);
  if (problem) return { ok: false, reason: problem };
  const first = rrset[0] as ResourceRecord;
  const s = rrsig.data;
  if (!namesEqual(rrsig.name, first.name) || rrsig.class !== first.class)
    return { ok: false, reason: 'rrset-inconsistent' };
  if (s.typeCovered !== first.type) return { ok: false, reason: 'type-mismatch' };
  if (!isSubdomainOf(first.name, s.signerName)) return { ok: false, reason: 'wrong-signer' };
  const ownerLabels = labelCount(first.name);
  if (s.labels > ownerLabels) return { ok: false, reason: 'labels-invalid' };
  if (s.algorithm !== dnskey.algorithm) return { ok: false, reason: 'algorithm-mismatch' };
  if (s.keyTag !== computeKeyTag(dnskey)) return { ok: false, reason: 'key-tag-mismatch' };
  if (dnskey.protocol !== 3 || (dnskey.flags & DnskeyFlag.ZONE) === 0)
    return { ok: false, reason: 'dnskey-not-zone-key' };
  if (dnskey.flags & DnskeyFlag.REVOKE && first.type !== RRType.DNSKEY)
    return { ok: false, reason: 'dnskey-revoked' };
  const t = toSerialTime(now);
  if (serialDiff(s.expiration, t) < 0) return { ok: false, reason: 'signature-expired' };
  if (serialDiff(s.inception, t) > 0) return { ok: false, reason: 'signature-not-yet-valid' };
  if (!isAlgorithmSupported(s.algorithm)) return { ok: false, reason: 'algorithm-unsupported' };
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromDnskey(dnskey);
  } catch {
    return { ok: false, reason: 'signature-invalid' };
  }
  const data = rrsigSignedData(s, rrset);
  if (!verifyBytes(s.algorithm, publicKey, data, s.signature))
    return { ok: false, reason: 'signature-invalid' };
  if (s.labels < ownerLabels) {
    const all = nameLabels(first.name);
    return { ok: true, wildcard: ['*', ...all.slice(all.length - s.labels)].join('.') + '.' };
  }
  return { ok: true };
}

/** Canonical name order helper re-exported for the validator. */
export const compareNames = compareCanonicalNames;
