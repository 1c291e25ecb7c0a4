// Public API of @switchboard/dnssec.
export * from './core/constants.js';
export type { DnssecErrorCode } from './core/errors.js';
export { DnssecError } from './core/errors.js';
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
} from './keys/keys.js';
export {
  isAlgorithmSupported,
  rrsigSignedData,
  signBytes,
  signRrset,
  verifyRrsig,
} from './signing/sign.js';
export { validateDnskeyRrset, validateResponse } from './validation/validate.js';
export type { DigestName, DnssecCrypto, SyncDnssecCrypto } from './core/crypto-ops.js';
export { validateDnskeyRrsetWith, validateResponseWith } from './validation/validate-async.js';
export { nodeDnssecCrypto, nodeSyncDnssecCrypto } from './crypto/node-crypto.js';
export type { SubtleCryptoLike } from './crypto/web-crypto.js';
export { webCryptoDnssec } from './crypto/web-crypto.js';
export { nsec3Hash, nsec3OwnerName } from './nsec3/nsec3.js';
export { base32hexDecode, base32hexEncode } from '@switchboard/dns-wire';
export { signZoneNsec3 } from './signing/zone-sign.js';
export type {
  ParallelZoneSignOptions,
  ParallelZoneTextOptions,
} from './signing/zone-sign-parallel.js';
export { signZoneNsec3Parallel, signZoneNsec3ParallelText } from './signing/zone-sign-parallel.js';
export {
  compactDenialNsec,
  minimalCoveringNsec,
  nsecPredecessor,
  nsecSuccessor,
} from './signing/online-denial.js';
