// node:crypto answers to the trust-list verification's crypto requests (see crypto.ts).
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { CharterCrypto, SyncCharterCrypto } from './crypto.js';

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410) before the raw 32-byte key.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Synchronous trust-list crypto over node:crypto. */
export const nodeSyncCharterCrypto: SyncCharterCrypto = {
  sha256(data) {
    const d = createHash('sha256').update(data).digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  },
  verifyEd25519(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      const key = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, publicKey]),
        format: 'der',
        type: 'spki',
      });
      return cryptoVerify(null, message, key, signature);
    } catch {
      return false;
    }
  },
};

/** The same as a {@link CharterCrypto}. */
export const nodeCharterCrypto: CharterCrypto = {
  sha256: (data) => Promise.resolve(nodeSyncCharterCrypto.sha256(data)),
  verifyEd25519: (publicKey, message, signature) =>
    Promise.resolve(nodeSyncCharterCrypto.verifyEd25519(publicKey, message, signature)),
};
