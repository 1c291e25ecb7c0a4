// Public API of @switchboard/charter: the trust list (format, canonical form, signatures,
// verification) and the trust decisions every Switchboard part makes from it. Pure: no fs, no
// clock, no env. File helpers for CLIs and `npm start` live in `@switchboard/charter/node`.
// Everything the portable entry exports (verification, trust decisions), then what needs Node.
export * from './portable.js';
export { TRUST_LIST_SCHEMA_ID, trustListSchema } from './trust-list/schema.js';
export {
  boardFingerprint,
  loadTrustList,
  serializeTrustList,
  trustListDigest,
} from './verify/load.js';
export { verifyTrustList, verifyTrustListChain } from './verify/verify.js';
export type { SyncCharterCrypto } from './verify/crypto.js';
export { nodeCharterCrypto, nodeSyncCharterCrypto } from './verify/node-crypto.js';
export type { TrustedPublisher } from './decisions/trust-publisher.js';
export { mayTrustPublisher } from './decisions/trust-publisher.js';
export type { Ed25519KeyPair } from './trust-list/keys.js';
export {
  boardKeyRecord,
  generateEd25519KeyPair,
  keyIdFor,
  privateKeyFromSeed,
  publicKeyFromBase64,
  publicKeyRecord,
  rawPublicKey,
  seedOf,
} from './trust-list/keys.js';
export type { DetachedSignature } from './governance/sign.js';
export { combineSignatures, detachedSignature, signTrustList } from './governance/sign.js';
export type { NewTrustListInput, TrustListEdit } from './governance/edit.js';
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
} from './governance/edit.js';
export type {
  BoardMemberKey,
  DevelopmentBoard,
  DevelopmentBoardOptions,
  DevelopmentTrustList,
  DevelopmentTrustListOptions,
} from './governance/dev.js';
export {
  createDevelopmentBoard,
  createDevelopmentTrustList,
  reissueDevelopmentTrustList,
  signWithAll,
} from './governance/dev.js';
