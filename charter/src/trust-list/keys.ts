import type { KeyObject } from 'node:crypto';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { CharterError } from './errors.js';
import type { BoardKey, PublicKeyRecord } from './types.js';

// DER prefixes for raw Ed25519 keys (RFC 8410): SubjectPublicKeyInfo and PKCS #8 with a 32-byte seed.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 key pair as the charter tools use it. */
export interface Ed25519KeyPair {
  readonly keyid: string;
  /** Raw public key, standard base64. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

/** Lower-case hex SHA-256 of a raw public key: the keyid used everywhere in the list. */
export function keyIdFor(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex');
}

/** Decodes a base64 raw Ed25519 public key to a KeyObject; refuses anything else. */
export function publicKeyFromBase64(publicKey: string): KeyObject {
  const raw = Buffer.from(publicKey, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== publicKey) {
    throw new CharterError('invalid-key', 'public key is not 32 bytes of standard base64');
  }
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    throw new CharterError('invalid-key', 'public key is not a valid Ed25519 key');
  }
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new CharterError('invalid-key', 'key is not an Ed25519 key');
  }
  const der = pub.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

/** An Ed25519 private key from its 32-byte seed (RFC 8032 section 5.1.5 private key). */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new CharterError('invalid-key', 'Ed25519 seed must be 32 bytes');
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The 32-byte seed of an Ed25519 private key (what a key file stores). */
export function seedOf(privateKey: KeyObject): Uint8Array {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new CharterError('invalid-key', 'key is not an Ed25519 private key');
  }
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(PKCS8_PREFIX.length));
}

/**
 * A new Ed25519 key pair; from `seed` when given (deterministic, for tests and fixtures),
 * otherwise from the system CSPRNG.
 */
export function generateEd25519KeyPair(seed?: Uint8Array): Ed25519KeyPair {
  const privateKey =
    seed === undefined ? generateKeyPairSync('ed25519').privateKey : privateKeyFromSeed(seed);
  const raw = rawPublicKey(privateKey);
  return { keyid: keyIdFor(raw), publicKey: Buffer.from(raw).toString('base64'), privateKey };
}

/** The list record for a public key. */
export function publicKeyRecord(pair: Pick<Ed25519KeyPair, 'publicKey'>): PublicKeyRecord {
  const raw = Buffer.from(pair.publicKey, 'base64');
  publicKeyFromBase64(pair.publicKey);
  return { keyid: keyIdFor(raw), publicKey: pair.publicKey };
}

/** The board record for a public key and its holder's name. */
export function boardKeyRecord(pair: Pick<Ed25519KeyPair, 'publicKey'>, name: string): BoardKey {
  return { ...publicKeyRecord(pair), name };
}

/** Ed25519 signature (RFC 8032, pure) over `message`, standard base64. */
export function signBytes(privateKey: KeyObject, message: Uint8Array): string {
  return cryptoSign(null, message, privateKey).toString('base64');
}

/** True if `sig` (base64) is a valid Ed25519 signature of `message` under `publicKey`. */
export function verifyBytes(publicKey: KeyObject, message: Uint8Array, sig: string): boolean {
  const raw = Buffer.from(sig, 'base64');
  if (raw.length !== 64) return false;
  return cryptoVerify(null, message, publicKey, raw);
}
