// DNSSEC keys: generation, DNSKEY rdata (RFC 6605 4, RFC 8080 3, RFC 3110 2), key tags
// (RFC 4034 B), DS digests (RFC 4509, RFC 6605), PKCS#8 and BIND v1.3 private key files.
import { Buffer } from 'node:buffer';
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
} from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import {
  canonicalName,
  encodeName,
  fromBase64,
  normalizeName,
  rdataCodec,
  RRType,
  toBase64,
} from '@switchboard/dns-wire';
import type { DnskeyData, DomainName, DsData } from '@switchboard/dns-wire';
import { DnssecError } from '../core/errors.js';
import { computeKeyTag, dsDigestName, rsaPublicKeyParts } from './key-data.js';

export { computeKeyTag } from './key-data.js';
import { DigestType, DnskeyFlag, DnssecAlgorithm } from '../core/constants.js';
import type { KeyOptions, SigningAlgorithm, SigningKey } from '../core/constants.js';

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const fromB64u = (s: string | undefined): Uint8Array => {
  if (typeof s !== 'string') throw new DnssecError('bad-key', 'key is missing a component');
  return new Uint8Array(Buffer.from(s, 'base64url'));
};

function curveLength(algorithm: number): number {
  return algorithm === DnssecAlgorithm.ECDSAP384SHA384 ? 48 : 32;
}

/** DNSKEY rdata for a public key (P-256 raw x||y, Ed25519 raw 32 octets). */
export function dnskeyFromPublicKey(publicKey: KeyObject, options: KeyOptions = {}): DnskeyData {
  const flags = options.flags ?? DnskeyFlag.KSK;
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384')) {
    const algorithm =
      jwk.crv === 'P-256' ? DnssecAlgorithm.ECDSAP256SHA256 : DnssecAlgorithm.ECDSAP384SHA384;
    const x = fromB64u(jwk.x);
    const y = fromB64u(jwk.y);
    const publicKey = new Uint8Array(x.length + y.length);
    publicKey.set(x, 0);
    publicKey.set(y, x.length);
    return { flags, protocol: 3, algorithm, publicKey };
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return { flags, protocol: 3, algorithm: DnssecAlgorithm.ED25519, publicKey: fromB64u(jwk.x) };
  }
  throw new DnssecError(
    'unsupported-algorithm',
    'only P-256, P-384 and Ed25519 keys are supported',
  );
}

/** A Node public key from DNSKEY rdata (algorithms 8, 13, 14, 15). */
export function publicKeyFromDnskey(dnskey: DnskeyData): KeyObject {
  const k = dnskey.publicKey;
  try {
    switch (dnskey.algorithm) {
      case DnssecAlgorithm.ECDSAP256SHA256:
      case DnssecAlgorithm.ECDSAP384SHA384: {
        const n = curveLength(dnskey.algorithm);
        if (k.length !== 2 * n)
          throw new DnssecError('bad-key', 'ECDSA DNSKEY has the wrong length');
        const jwk: JsonWebKey = {
          kty: 'EC',
          crv: n === 32 ? 'P-256' : 'P-384',
          x: b64u(k.subarray(0, n)),
          y: b64u(k.subarray(n)),
        };
        return createPublicKey({ key: jwk, format: 'jwk' });
      }
      case DnssecAlgorithm.ED25519:
        if (k.length !== 32)
          throw new DnssecError('bad-key', 'Ed25519 DNSKEY has the wrong length');
        return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(k) }, format: 'jwk' });
      case DnssecAlgorithm.RSASHA256:
      case DnssecAlgorithm.RSASHA512: {
        const { e, n } = rsaPublicKeyParts(k);
        return createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' });
      }
      default:
        throw new DnssecError('unsupported-algorithm', 'unsupported DNSKEY algorithm');
    }
  } catch (err) {
    if (DnssecError.is(err)) throw err;
    throw new DnssecError('bad-key', 'DNSKEY public key is not a valid point/key');
  }
}

function digestName(digestType: number): string {
  switch (digestType) {
    case DigestType.SHA1:
      return 'sha1';
    case DigestType.SHA256:
      return 'sha256';
    case DigestType.SHA384:
      return 'sha384';
    default:
      throw new DnssecError('unsupported-algorithm', 'unsupported DS digest type');
  }
}

/** DS rdata for a DNSKEY at `owner` (RFC 4034 5.1.4): digest(owner canonical | DNSKEY rdata). */
export function dsFromDnskey(
  owner: DomainName,
  dnskey: DnskeyData,
  digestType: number = DigestType.SHA256,
): DsData {
  const h = createHash(digestName(digestType));
  h.update(encodeName(canonicalName(owner)));
  h.update(rdataCodec(RRType.DNSKEY).encode(dnskey));
  return {
    keyTag: computeKeyTag(dnskey),
    algorithm: dnskey.algorithm,
    digestType,
    digest: new Uint8Array(h.digest()),
  };
}

/** True if the DS names this DNSKEY at `owner` (unsupported digest types never match). */
export function dsMatchesDnskey(owner: DomainName, ds: DsData, dnskey: DnskeyData): boolean {
  if (ds.algorithm !== dnskey.algorithm || ds.keyTag !== computeKeyTag(dnskey)) return false;
  if (dsDigestName(ds.digestType) === undefined) return false;
  const expected = dsFromDnskey(owner, dnskey, ds.digestType).digest;
  return Buffer.from(expected).equals(Buffer.from(ds.digest));
}

/** Wraps a private key (P-256 or Ed25519) with its DNSKEY and key tag. */
export function signingKeyFromPrivateKey(
  privateKey: KeyObject,
  options: KeyOptions = {},
): SigningKey {
  if (privateKey.type !== 'private') throw new DnssecError('bad-key', 'not a private key');
  const publicKey = createPublicKey(privateKey);
  const dnskey = dnskeyFromPublicKey(publicKey, options);
  if (
    dnskey.algorithm !== DnssecAlgorithm.ECDSAP256SHA256 &&
    dnskey.algorithm !== DnssecAlgorithm.ED25519
  )
    throw new DnssecError('unsupported-algorithm', 'signing supports algorithms 13 and 15 only');
  return {
    algorithm: dnskey.algorithm as SigningAlgorithm,
    flags: dnskey.flags,
    dnskey,
    keyTag: computeKeyTag(dnskey),
    privateKey,
    publicKey,
  };
}

/** A fresh key pair: algorithm 13 (ECDSA P-256/SHA-256) or 15 (Ed25519). Default flags 257. */
export function generateSigningKey(
  algorithm: SigningAlgorithm,
  options: KeyOptions = {},
): SigningKey {
  if (algorithm === DnssecAlgorithm.ECDSAP256SHA256) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return signingKeyFromPrivateKey(privateKey, options);
  }
  if (algorithm === DnssecAlgorithm.ED25519) {
    const { privateKey } = generateKeyPairSync('ed25519');
    return signingKeyFromPrivateKey(privateKey, options);
  }
  throw new DnssecError('unsupported-algorithm', 'signing supports algorithms 13 and 15 only');
}

/** PKCS#8 PEM of the private key (store it 0600). */
export function exportPrivateKeyPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Reads a PKCS#8 (or SEC1) PEM private key. */
export function importPrivateKeyPem(pem: string, options: KeyOptions = {}): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new DnssecError('bad-key', 'not a readable PEM private key');
  }
  return signingKeyFromPrivateKey(privateKey, options);
}

function bindTime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const ALG_MNEMONIC: Record<number, string> = { 13: 'ECDSAP256SHA256', 15: 'ED25519' };

/** BIND `K*.private` (Private-key-format v1.3) text for the key. */
export function exportBindPrivateKey(key: SigningKey, now: Date): string {
  const jwk = key.privateKey.export({ format: 'jwk' });
  const d = fromB64u(jwk.d);
  const t = bindTime(now);
  return [
    'Private-key-format: v1.3',
    `Algorithm: ${key.algorithm} (${ALG_MNEMONIC[key.algorithm] ?? ''})`,
    `PrivateKey: ${toBase64(d)}`,
    `Created: ${t}`,
    `Publish: ${t}`,
    `Activate: ${t}`,
    '',
  ].join('\n');
}

/** Reads a BIND `K*.private` file (algorithms 13 and 15). */
export function importBindPrivateKey(text: string, options: KeyOptions = {}): SigningKey {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line.trim());
    if (m) fields.set((m[1] as string).toLowerCase(), (m[2] as string).trim());
  }
  const alg = Number(/^([0-9]+)/.exec(fields.get('algorithm') ?? '')?.[1] ?? NaN);
  const pk = fields.get('privatekey');
  if (!pk) throw new DnssecError('bad-key-file', 'BIND key file has no PrivateKey field');
  let d: Uint8Array;
  try {
    d = fromBase64(pk);
  } catch {
    throw new DnssecError('bad-key-file', 'BIND key file PrivateKey is not base64');
  }
  if (d.length !== 32)
    throw new DnssecError('bad-key-file', 'BIND private key has the wrong length');
  try {
    if (alg === DnssecAlgorithm.ECDSAP256SHA256) {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(d);
      const pub = ecdh.getPublicKey();
      const privateKey = createPrivateKey({
        key: {
          kty: 'EC',
          crv: 'P-256',
          d: b64u(d),
          x: b64u(pub.subarray(1, 33)),
          y: b64u(pub.subarray(33)),
        },
        format: 'jwk',
      });
      return signingKeyFromPrivateKey(privateKey, options);
    }
    if (alg === DnssecAlgorithm.ED25519) {
      const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), d]);
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      return signingKeyFromPrivateKey(privateKey, options);
    }
  } catch (err) {
    if (DnssecError.is(err)) throw err;
    throw new DnssecError('bad-key-file', 'BIND private key is not a valid key');
  }
  throw new DnssecError('unsupported-algorithm', 'BIND key file algorithm not supported');
}

/** `K<owner>+<alg>+<tag>` as BIND names key files (append `.key` / `.private`). */
export function bindKeyBaseName(owner: DomainName, key: SigningKey): string {
  const name = canonicalName(owner);
  return `K${name}+${String(key.algorithm).padStart(3, '0')}+${String(key.keyTag).padStart(5, '0')}`;
}

/** The BIND `K*.key` file text: a comment and the DNSKEY record. */
export function formatBindPublicKey(owner: DomainName, key: SigningKey, ttl?: number): string {
  const kind = key.flags & DnskeyFlag.SEP ? 'key-signing' : 'zone-signing';
  const name = normalizeName(owner);
  const ttlPart = ttl === undefined ? '' : ` ${ttl}`;
  return (
    `; This is a ${kind} key, keyid ${key.keyTag}, for ${name}\n` +
    `${name}${ttlPart} IN DNSKEY ${key.dnskey.flags} ${key.dnskey.protocol} ${key.dnskey.algorithm} ${toBase64(key.dnskey.publicKey)}\n`
  );
}
