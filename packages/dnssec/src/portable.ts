// `@switchboard/dnssec/validate`: validation without Node built-ins, for browsers and any
// runtime with WebCrypto (or another injected crypto). Signing stays in the main entry.
export * from './core/constants.js';
export type { DnssecErrorCode } from './core/errors.js';
export { DnssecError } from './core/errors.js';
export type { DigestName, DnssecCrypto, SyncDnssecCrypto } from './core/crypto-ops.js';
export { computeKeyTag } from './keys/key-data.js';
export { isAlgorithmSupported } from './validation/verify-core.js';
export { validateDnskeyRrsetWith, validateResponseWith } from './validation/validate-async.js';
export type { SubtleCryptoLike } from './crypto/web-crypto.js';
export { webCryptoDnssec } from './crypto/web-crypto.js';
