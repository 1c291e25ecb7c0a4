import type { components, operations, paths } from '../generated/provider.js';
import type { ErrorStatusTable } from './problem.js';
import { ApiError } from './problem.js';

/** Every error code of the provider API (the document's `ErrorCode` enum). */
export type ProviderErrorCode = components['schemas']['ErrorCode'];

/**
 * The provider API's one code -> HTTP status table. It is typed as exhaustive over the
 * document's enum: adding a code to `provider.yaml` and regenerating fails the build until the
 * code has a status here.
 */
export const PROVIDER_ERROR_STATUS: ErrorStatusTable<ProviderErrorCode> = {
  'request.invalid': 400,
  'request.malformed-json': 400,
  'request.too-large': 413,
  'request.unsupported-media-type': 415,
  'route.not-found': 404,
  'method.not-allowed': 405,
  'auth.missing': 401,
  'auth.invalid': 401,
  'auth.stale': 401,
  'auth.replayed': 401,
  'auth.digest-mismatch': 400,
  'auth.forbidden': 403,
  'number.invalid': 422,
  'verification.session-not-found': 404,
  'verification.session-expired': 410,
  'verification.no-code-sent': 409,
  'verification.code-incorrect': 422,
  'verification.code-expired': 410,
  'verification.already-verified': 409,
  'verification.not-verified': 403,
  'verification.sender-failed': 502,
  'handover.not-found': 404,
  'handover.expired': 410,
  'card.invalid': 422,
  'card.signature-invalid': 422,
  'card.expired': 410,
  'rate.limited': 429,
  'keys.identity-key-invalid': 422,
  'keys.signed-prekey-invalid': 422,
  'keys.signed-prekey-signature-invalid': 422,
  'keys.kyber-prekey-invalid': 422,
  'keys.kyber-prekey-signature-invalid': 422,
  'keys.one-time-prekey-invalid': 422,
  'keys.duplicate-key-id': 422,
  'keys.device-key-invalid': 422,
  'keys.too-many-prekeys': 413,
  'account.not-found': 404,
  'account.registration-locked': 423,
  'directory.not-configured': 503,
  'directory.publish-failed': 502,
  'credit.idempotency-key-reused': 409,
  'credit.payment-reference-reused': 409,
  'credit.insufficient-funds': 402,
  'credit.currency-mismatch': 422,
  'port.authorisation-invalid': 422,
  'port.authorisation-expired': 410,
  'port.not-found': 404,
  'api-key.not-found': 404,
  'mailbox.full': 409,
  'mailbox.sender-limit': 409,
  'mailbox.storage-full': 507,
  'mailbox.message-too-large': 413,
  'mailbox.message-not-found': 404,
  'mailbox.key-mismatch': 403,
  'service.unavailable': 503,
  internal: 500,
};

/** An {@link ApiError} of the provider API. */
export class ProviderApiError extends ApiError<ProviderErrorCode> {}

/** Generated types of the provider API document. */
export type {
  components as ProviderComponents,
  operations as ProviderOperations,
  paths as ProviderPaths,
};

/** A schema of the provider API by name. */
export type ProviderSchema<Name extends keyof components['schemas']> = components['schemas'][Name];
