// Public API of @switchboard/dnssec.
export * from './constants.js';
export type { DnssecErrorCode } from './errors.js';
export { DnssecError } from './errors.js';
export {
  bindKeyBaseName,
  computeKeyTag,
  dnskeyFromPublicKey,
  dsFromDnskey,
  dsMatchesDnskey,
  exportBindPrivateKey,
  exportPrivateKeyPem,
  formatBindPublicKey,
  generateSigningKey,
  importBindPrivateKey,
  importPrivateKeyPem,
  publicKeyFromDnskey,
  signingKeyFromPrivateKey,
} from './keys.js';
export {
  isAlgorithmSupported,
  rrsigSignedData,
  signBytes,
  signRrset,
  verifyRrsig,
} from './sign.js';
export { validateDnskeyRrset, validateResponse } from './validate.js';
export type { DigestName, DnssecCrypto, SyncDnssecCrypto } from './crypto-ops.js';
export { validateDnskeyRrsetWith, validateResponseWith } from './validate-async.js';
export { nodeDnssecCrypto, nodeSyncDnssecCrypto } from './node-crypto.js';
export type { SubtleCryptoLike } from './web-crypto.js';
export { webCryptoDnssec } from './web-crypto.js';
export { nsec3Hash, nsec3OwnerName } from './nsec3.js';
export { base32hexDecode, base32hexEncode } from '@switchboard/dns-wire';
export { signZoneNsec3 } from './zone-sign.js';
export type { ParallelZoneSignOptions } from './zone-sign-parallel.js';
export { signZoneNsec3Parallel } from './zone-sign-parallel.js';
export {
  compactDenialNsec,
  minimalCoveringNsec,
  nsecPredecessor,
  nsecSuccessor,
} from './online-denial.js';
