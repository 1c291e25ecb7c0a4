import type { ApiErrorOptions, ProviderErrorCode } from '@switchboard/openapi';
import { ProviderApiError } from '@switchboard/openapi';

/** Builds the error a handler throws; its HTTP status comes from `PROVIDER_ERROR_STATUS`. */
export function fail(
  code: ProviderErrorCode,
  message: string,
  options: ApiErrorOptions = {},
): ProviderApiError {
  return new ProviderApiError(code, message, options);
}

/** A 429 with Retry-After. */
export function rateLimited(retryAfterSeconds: number, what: string): ProviderApiError {
  return fail('rate.limited', `too many ${what}; retry after ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}
