// node:crypto answers to the validator's crypto requests (see core/crypto-ops.ts).
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { DnssecAlgorithm } from '../core/constants.js';
import type { DigestName, DnssecCrypto, SyncDnssecCrypto } from '../core/crypto-ops.js';
import { publicKeyFromDnskey } from '../keys/keys.js';

const NODE_HASH: Readonly<Record<DigestName, string>> = {
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

function verifyWithKey(
  algorithm: number,
  key: KeyObject,
  data: Uint8Array,
  sig: Uint8Array,
): boolean {
  switch (algorithm) {
    case DnssecAlgorithm.ECDSAP256SHA256:
      return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    case DnssecAlgorithm.ECDSAP384SHA384:
      return cryptoVerify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    case DnssecAlgorithm.ED25519:
      return cryptoVerify(null, data, key, sig);
    case DnssecAlgorithm.RSASHA256:
      return cryptoVerify('sha256', data, key, sig);
    case DnssecAlgorithm.RSASHA512:
      return cryptoVerify('sha512', data, key, sig);
    default:
      return false;
  }
}

/** Synchronous validation crypto over node:crypto (what `validateResponse` uses). */
export const nodeSyncDnssecCrypto: SyncDnssecCrypto = {
  verify(algorithm, publicKey, data, signature) {
    try {
      const key = publicKeyFromDnskey({ flags: 256, protocol: 3, algorithm, publicKey });
      return verifyWithKey(algorithm, key, data, signature);
    } catch {
      return false;
    }
  },
  digest(hash, data) {
    const d = createHash(NODE_HASH[hash]).update(data).digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  },
};

/** The same as a {@link DnssecCrypto} for the asynchronous validators. */
export const nodeDnssecCrypto: DnssecCrypto = {
  verify: (algorithm, publicKey, data, signature) =>
    Promise.resolve(nodeSyncDnssecCrypto.verify(algorithm, publicKey, data, signature)),
  digest: (hash, data) => Promise.resolve(nodeSyncDnssecCrypto.digest(hash, data)),
};
