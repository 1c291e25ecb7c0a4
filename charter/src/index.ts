// Public API of @switchboard/charter: the trust list (format, canonical form, signatures,
// verification) and the trust decisions every Switchboard part makes from it. Pure: no fs, no
// clock, no env. File helpers for CLIs and `npm start` live in `@switchboard/charter/node`.
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
export { TRUST_LIST_SCHEMA_ID, trustListSchema } from './schema.js';
export type { TrustListInput } from './load.js';
export {
  MAX_TRUST_LIST_BYTES,
  boardFingerprint,
  loadTrustList,
  serializeTrustList,
  trustListDigest,
} from './load.js';
export type { VerifyOptions } from './verify.js';
export { verifyTrustList, verifyTrustListChain } from './verify.js';
export type { CharterCrypto, SubtleCryptoLike, SyncCharterCrypto } from './crypto.js';
export { webCryptoCharter } from './crypto.js';
export { nodeCharterCrypto, nodeSyncCharterCrypto } from './node-crypto.js';
export {
  boardFingerprintWith,
  loadTrustListWith,
  verifyTrustListChainWith,
  verifyTrustListWith,
} from './verify-async.js';
export type { DistrustReason, TrustDecision } from './trust.js';
export type { TrustedPublisher } from './trust-publisher.js';
export { mayTrustPublisher } from './trust-publisher.js';
export {
  activeDirectories,
  assertMayTrustDirectory,
  assertMayTrustProvider,
  mayTrustDirectory,
  mayTrustProvider,
} from './trust.js';
export type { Ed25519KeyPair } from './keys.js';
export {
  boardKeyRecord,
  generateEd25519KeyPair,
  keyIdFor,
  privateKeyFromSeed,
  publicKeyFromBase64,
  publicKeyRecord,
  rawPublicKey,
  seedOf,
} from './keys.js';
export type { DetachedSignature } from './sign.js';
export { combineSignatures, detachedSignature, signTrustList } from './sign.js';
export type { NewTrustListInput, TrustListEdit } from './edit.js';
export {
  addDirectory,
  addProvider,
  createTrustList,
  draftNextVersion,
  setBoard,
  setDirectoryStatus,
  setExpiry,
  setProviderStatus,
  toTimestamp,
  updateDirectory,
  updateProvider,
} from './edit.js';
export type {
  BoardMemberKey,
  DevelopmentBoard,
  DevelopmentBoardOptions,
  DevelopmentTrustList,
  DevelopmentTrustListOptions,
} from './dev.js';
export {
  createDevelopmentBoard,
  createDevelopmentTrustList,
  reissueDevelopmentTrustList,
  signWithAll,
} from './dev.js';
