/**
 * Error codes every HTTP contract of Switchboard defines, because the shared request validation
 * and error handling produce them. Each document's `ErrorCode` enum must include them.
 */
export type CoreErrorCode =
  | 'request.invalid'
  | 'request.malformed-json'
  | 'request.too-large'
  | 'request.unsupported-media-type'
  | 'route.not-found'
  | 'method.not-allowed'
  | 'internal';

/** One failed check on a request field. */
export interface FieldError {
  /** JSON pointer into the request: `/body/...`, `/query/...`, `/path/...`, `/header/...`. */
  readonly pointer: string;
  readonly message: string;
}

/** Options of an {@link ApiError}. */
export interface ApiErrorOptions {
  readonly errors?: readonly FieldError[];
  /** Sets `Retry-After` (429/503). */
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

/**
 * The one error an HTTP handler throws to answer with a problem. `code` is stable and
 * machine-readable; the HTTP status comes from the contract's exhaustive status table, never
 * from the throw site. The message is the problem's `detail`: it says what was wrong and what to
 * do, and never contains numbers, keys, tokens or message bodies.
 *
 * @example
 * throw new ApiError('verification.code-incorrect', 'the code does not match; request a new one');
 */
export class ApiError<Code extends string = string> extends Error {
  override readonly name = 'ApiError';
  readonly code: Code;
  readonly errors: readonly FieldError[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: Code, message: string, options: ApiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Type guard, optionally for one code. */
  static is<C extends string>(err: unknown, code?: C): err is ApiError<C> {
    return err instanceof ApiError && (code === undefined || err.code === code);
  }
}

/** An RFC 9457 problem details document as Switchboard APIs send it. */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail?: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
  readonly retryAfterSeconds?: number;
}

/** The media type of problem documents (RFC 9457 section 3). */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** Maps every code of one contract to its HTTP status; built once per contract. */
export type ErrorStatusTable<Code extends string> = Readonly<Record<Code, number>>;

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  423: 'Locked',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Builds the problem document for an error code using the contract's status table. */
export function problemFor<Code extends string>(
  table: ErrorStatusTable<Code>,
  code: Code,
  detail: string,
  extra: Pick<ApiErrorOptions, 'errors' | 'retryAfterSeconds'> & { instance?: string } = {},
): ProblemDocument {
  const status = table[code];
  return {
    type: `urn:switchboard:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...(extra.instance === undefined ? {} : { instance: extra.instance }),
    ...(extra.errors === undefined || extra.errors.length === 0 ? {} : { errors: extra.errors }),
    ...(extra.retryAfterSeconds === undefined
      ? {}
      : { retryAfterSeconds: extra.retryAfterSeconds }),
  };
}
