// `@switchboard/charter/verify`: verifying trust lists and the trust decisions, with no Node
// built-in reachable (browsers; WebCrypto or another injected crypto). Signing, key files and
// the directory's publisher decision stay in the main entry.
export type { CharterErrorCode } from './errors.js';
export { CharterError, isCharterError } from './errors.js';
export type {
  AccreditationWindow,
  Board,
  BoardKey,
  DirectoryEntry,
  DnskeyTrustAnchor,
  DsTrustAnchor,
  EntryStatus,
  Network,
  ProviderEntry,
  PublicKeyRecord,
  SignedTrustList,
  Timestamp,
  TrustAnchor,
  TrustListBody,
  TrustListSignature,
  VerifiedTrustList,
} from './types.js';
export { ENTRY_STATUSES, NETWORKS } from './types.js';
export { canonicalize, canonicalBytes } from './jcs.js';
export type { JsonValue } from './strict-json.js';
export { parseStrictJson } from './strict-json.js';
export type { TrustListInput } from './load-core.js';
export { MAX_TRUST_LIST_BYTES } from './load-core.js';
export type { VerifyOptions } from './verify-core.js';
export type { CharterCrypto, SubtleCryptoLike } from './crypto.js';
export { webCryptoCharter } from './crypto.js';
export {
  boardFingerprintWith,
  loadTrustListWith,
  verifyTrustListChainWith,
  verifyTrustListWith,
} from './verify-async.js';
export type { DistrustReason, TrustDecision } from './trust.js';
export {
  activeDirectories,
  assertMayTrustDirectory,
  assertMayTrustProvider,
  mayTrustDirectory,
  mayTrustProvider,
} from './trust.js';
