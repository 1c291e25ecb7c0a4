// DNSKEY and DS arithmetic without Node built-ins: key tags (RFC 4034 B), DS digests (RFC 4034
// 5.1.4) as crypto requests, RSA public key fields (RFC 3110 2).
import { canonicalName, encodeName, rdataCodec, RRType } from '@switchboard/dns-wire';
import type { DnskeyData, DomainName, DsData } from '@switchboard/dns-wire';
import { DigestType } from '../core/constants.js';
import type { DigestName, Op } from '../core/crypto-ops.js';
import { digestOp } from '../core/crypto-ops.js';
import { DnssecError } from '../core/errors.js';
import { compareUint8 } from '../core/rrsig-data.js';

/** RFC 4034 appendix B key tag over the DNSKEY rdata. */
export function computeKeyTag(dnskey: DnskeyData): number {
  const rdata = rdataCodec(RRType.DNSKEY).encode(dnskey);
  let ac = 0;
  for (let i = 0; i < rdata.length; i++)
    ac += i & 1 ? (rdata[i] as number) : (rdata[i] as number) << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** The digest a DS digest type uses, or undefined when it is not supported. */
export function dsDigestName(digestType: number): DigestName | undefined {
  switch (digestType) {
    case DigestType.SHA1:
      return 'SHA-1';
    case DigestType.SHA256:
      return 'SHA-256';
    case DigestType.SHA384:
      return 'SHA-384';
    default:
      return undefined;
  }
}

/** The octets a DS digest covers: owner (canonical wire form) | DNSKEY rdata. */
export function dsDigestInput(owner: DomainName, dnskey: DnskeyData): Uint8Array {
  const name = encodeName(canonicalName(owner));
  const rdata = rdataCodec(RRType.DNSKEY).encode(dnskey);
  const out = new Uint8Array(name.length + rdata.length);
  out.set(name);
  out.set(rdata, name.length);
  return out;
}

/** True if the DS names this DNSKEY at `owner` (unsupported digest types never match). */
export function* dsMatchesDnskeyOp(owner: DomainName, ds: DsData, dnskey: DnskeyData): Op<boolean> {
  if (ds.algorithm !== dnskey.algorithm || ds.keyTag !== computeKeyTag(dnskey)) return false;
  const hash = dsDigestName(ds.digestType);
  if (!hash) return false;
  const digest = yield* digestOp(hash, dsDigestInput(owner, dnskey));
  return compareUint8(digest, ds.digest) === 0;
}

/** RFC 3110 2: exponent length (1 octet, or 0 + 2 octets), exponent, modulus. */
export function rsaPublicKeyParts(k: Uint8Array): { e: Uint8Array; n: Uint8Array } {
  if (k.length < 3) throw new DnssecError('bad-key', 'RSA DNSKEY too short');
  let p = 1;
  let elen = k[0] as number;
  if (elen === 0) {
    elen = ((k[1] as number) << 8) | (k[2] as number);
    p = 3;
  }
  if (elen === 0 || p + elen >= k.length) throw new DnssecError('bad-key', 'RSA DNSKEY malformed');
  return { e: k.subarray(p, p + elen), n: k.subarray(p + elen) };
}
