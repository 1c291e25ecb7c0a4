// `@switchboard/charter/verify`: verifying trust lists and the trust decisions, with no Node
// built-in reachable (browsers; WebCrypto or another injected crypto). Signing, key files and
// the directory's publisher decision stay in the main entry.
export type { CharterErrorCode } from './trust-list/errors.js';
export { CharterError, isCharterError } from './trust-list/errors.js';
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
} from './trust-list/types.js';
export { ENTRY_STATUSES, NETWORKS } from './trust-list/types.js';
export { canonicalize, canonicalBytes } from './trust-list/jcs.js';
export type { JsonValue } from './trust-list/strict-json.js';
export { parseStrictJson } from './trust-list/strict-json.js';
export type { TrustListInput } from './verify/load-core.js';
export { MAX_TRUST_LIST_BYTES } from './verify/load-core.js';
export type { VerifyOptions } from './verify/verify-core.js';
export type { CharterCrypto, SubtleCryptoLike } from './verify/crypto.js';
export { webCryptoCharter } from './verify/crypto.js';
export {
  boardFingerprintWith,
  loadTrustListWith,
  verifyTrustListChainWith,
  verifyTrustListWith,
} from './verify/verify-async.js';
export type { DistrustReason, TrustDecision } from './decisions/trust.js';
export {
  activeDirectories,
  assertMayTrustDirectory,
  assertMayTrustProvider,
  mayTrustDirectory,
  mayTrustProvider,
} from './decisions/trust.js';
