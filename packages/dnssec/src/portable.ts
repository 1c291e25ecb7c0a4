// `@switchboard/dnssec/validate`: validation without Node built-ins, for browsers and any
// runtime with WebCrypto (or another injected crypto). Signing stays in the main entry.
export * from './constants.js';
export type { DnssecErrorCode } from './errors.js';
export { DnssecError } from './errors.js';
export type { DigestName, DnssecCrypto, SyncDnssecCrypto } from './crypto-ops.js';
export { computeKeyTag } from './key-data.js';
export { isAlgorithmSupported } from './verify-core.js';
export { validateDnskeyRrsetWith, validateResponseWith } from './validate-async.js';
export type { SubtleCryptoLike } from './web-crypto.js';
export { webCryptoDnssec } from './web-crypto.js';
