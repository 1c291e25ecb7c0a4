export type { HttpSignatureErrorCode } from './errors.js';
export { HttpSignatureError } from './errors.js';
export type { ReplayCache } from './replay-cache.js';
export { MemoryReplayCache } from './replay-cache.js';
export type { SignRequestInput, SignedHeaders, VerifyRequestInput } from './signature.js';
export { contentDigestFor, signRequest, verifyRequest } from './signature.js';
export type { Member, ParamValue } from './structured-fields.js';
export { StructuredFieldError, parseDictionary } from './structured-fields.js';
