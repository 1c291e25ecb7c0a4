import type { components } from '../generated/directory.js';
import type { CoreErrorCode, ErrorStatusTable } from './problem.js';

/** Every problem code of the directory's publish API (the document's `ProblemCode` enum). */
export type DirectoryErrorCode = components['schemas']['ProblemCode'];

/**
 * The publish API's one code -> HTTP status table, exhaustive over the document's enum: adding a
 * code to `directory.yaml` and regenerating fails the build until the code has a status here.
 */
export const DIRECTORY_ERROR_STATUS: ErrorStatusTable<DirectoryErrorCode> = {
  'invalid-number': 400,
  'invalid-body': 400,
  'invalid-identity-key': 400,
  'invalid-contact': 400,
  'signature-missing': 401,
  'signature-malformed': 401,
  'unknown-key': 401,
  'bad-signature': 401,
  'stale-request': 401,
  'replayed-request': 401,
  'digest-mismatch': 400,
  'provider-not-active': 403,
  'number-not-found': 404,
  'number-held-by-other-provider': 409,
  'move-proof-invalid': 403,
  'move-proof-expired': 403,
  'move-not-needed': 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'not-found': 404,
  'rate-limited': 429,
  'not-ready': 503,
  internal: 500,
};

/**
 * The directory's code for each code the shared router produces (the directory's contract
 * predates the core codes and keeps its own names; a wrong method is `not-found`, as before).
 */
export const DIRECTORY_CORE_CODES: Readonly<Record<CoreErrorCode, DirectoryErrorCode>> = {
  'request.invalid': 'invalid-body',
  'request.malformed-json': 'invalid-body',
  'request.too-large': 'payload-too-large',
  'request.unsupported-media-type': 'unsupported-media-type',
  'route.not-found': 'not-found',
  'method.not-allowed': 'not-found',
  internal: 'internal',
};
