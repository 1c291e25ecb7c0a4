import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import express from 'express';
import type { CoreErrorCode, ErrorStatusTable, FieldError } from './problem.js';
import { ApiError, PROBLEM_MEDIA_TYPE, problemFor } from './problem.js';
import type { OpenApiValidator, OperationInfo, ValidatedRequest } from './validator.js';

/** What a bound handler receives besides `req` and `res`: the validated request. */
export interface OperationInput extends ValidatedRequest {
  readonly operation: OperationInfo;
  /** The exact body bytes (empty when none), for signature and digest checks. */
  readonly rawBody: Buffer;
}

/** A handler for one operation; throw {@link ApiError} to answer with a problem. */
export type OperationHandler = (
  req: Request,
  res: Response,
  input: OperationInput,
) => void | Promise<void>;

/** A response that does not match the document (reported in development and tests). */
export interface ResponseViolation {
  readonly operationId: string;
  readonly status: number;
  readonly errors: readonly FieldError[];
}

/**
 * How a contract's codes meet the router's: either the contract's enum holds every
 * {@link CoreErrorCode} and its table gives each a status, or `coreCodes` names the contract's
 * own code for each (the directory's `not-found` for `route.not-found`, ...).
 */
export type ApiCodeTable<Code extends string> =
  | {
      /** The contract's exhaustive code -> status table. */
      readonly statusTable: ErrorStatusTable<Code | CoreErrorCode>;
      readonly coreCodes?: undefined;
    }
  | {
      readonly statusTable: ErrorStatusTable<Code>;
      /** The contract's code for each code the router itself produces. */
      readonly coreCodes: Readonly<Record<CoreErrorCode, Code>>;
    };

/** Options of {@link createApiRouter}. */
export type ApiRouterOptions<Code extends string> = ApiCodeTable<Code> & ApiRouterSettings<Code>;

/** Options of {@link createApiRouter} besides its codes. */
export interface ApiRouterSettings<Code extends string> {
  readonly validator: OpenApiValidator;
  /**
   * `enforce` (tests, development): a response that does not match the document is replaced by
   * a 500 `internal` problem and reported; `off` (production): responses are not checked.
   */
  readonly responseValidation?: 'off' | 'enforce';
  /**
   * The problem for a request that fails validation, from its field errors (default
   * `request.invalid` listing them); for contracts with a code per field.
   */
  readonly invalidRequest?: (errors: readonly FieldError[]) => ApiError<Code> | undefined;
  /** Largest accepted request body (default 1 MiB). */
  readonly bodyLimitBytes?: number;
  /**
   * Parses a JSON request body (default `JSON.parse`). Services pass service-kit's
   * `parseJsonBody`, which refuses bodies nested too deeply for the validator. What it throws is
   * answered 400 `request.malformed-json`, with its message when it has `expose: true`.
   */
  readonly parseJson?: (text: string) => unknown;
  /** Called for every unexpected error (answered with 500) and every response violation. */
  readonly onError?: (event: { err?: unknown; violation?: ResponseViolation }) => void;
  /** Called for every problem answered (its status and code), after it was sent. */
  readonly onProblem?: (req: Request, status: number, code: string) => void;
}

/** An express router that routes, validates and answers errors for one OpenAPI document. */
export interface ApiRouter<Code extends string> {
  readonly router: Router;
  /** Routes `operationId` (method and path from the document) to `handler`, after validation. */
  bind(operationId: string, handler: OperationHandler): void;
  /** Operations of the document that are not bound yet. */
  unbound(): readonly string[];
  /** Adds 405/404 handling and the problem+json error handler; call after the last bind. */
  finish(): void;
  /** Sends a problem for `code` (for code paths that do not throw). */
  sendProblem(res: Response, error: ApiError<Code | CoreErrorCode>): void;
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/;

/**
 * Builds the HTTP layer of an API from its OpenAPI document: every route comes from the
 * document, every request is validated against it before a handler runs, every error is an
 * RFC 9457 problem whose status comes from one table, and (in tests) every response is checked
 * against the document.
 *
 * @example
 * const api = createApiRouter({ validator, statusTable: PROVIDER_ERROR_STATUS });
 * api.bind('getHealth', (_req, res) => void res.json({ status: 'ok' }));
 * api.finish();
 * app.use(api.router);
 */
export function createApiRouter<Code extends string>(
  options: ApiRouterOptions<Code>,
): ApiRouter<Code> {
  const { validator } = options;
  const statusTable = contractTable(options);
  const router = express.Router({ strict: false, caseSensitive: true });
  const bound = new Set<string>();
  const enforce = options.responseValidation === 'enforce';
  const parseJson = options.parseJson ?? ((text: string): unknown => JSON.parse(text));

  const sendProblem = (res: Response, error: ApiError<Code | CoreErrorCode>): void => {
    const code = statusTable.codeOf(error.code) ?? statusTable.codeOf('internal') ?? 'internal';
    const problem = problemFor(statusTable.table, code, error.message, {
      ...(error.errors ? { errors: error.errors } : {}),
      ...(error.retryAfterSeconds === undefined
        ? {}
        : { retryAfterSeconds: error.retryAfterSeconds }),
    });
    if (error.retryAfterSeconds !== undefined)
      res.set('Retry-After', String(error.retryAfterSeconds));
    res.status(problem.status).type(PROBLEM_MEDIA_TYPE).send(JSON.stringify(problem));
    options.onProblem?.(res.req, problem.status, code);
  };

  router.use(express.raw({ type: () => true, limit: options.bodyLimitBytes ?? 1024 * 1024 }));

  return {
    router,
    sendProblem,
    bind(operationId, handler) {
      const operation = validator.operation(operationId);
      if (bound.has(operationId)) throw new RangeError(`${operationId} is already bound`);
      bound.add(operationId);
      const route: RequestHandler = async (req, res) => {
        if (enforce) checkResponses(res, operationId, validator, sendProblem, options.onError);
        const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const body = rawBody.length > 0 ? parseBody(req, rawBody, operation, parseJson) : undefined;
        const result = validator.validateRequest(operationId, {
          params: req.params,
          query: req.query as Record<string, unknown>,
          headers: req.headers,
          body,
        });
        if (!result.ok) {
          throw (
            options.invalidRequest?.(result.errors) ??
            new ApiError<CoreErrorCode>(
              'request.invalid',
              'the request does not match the API description; see errors',
              { errors: result.errors.slice(0, 20) },
            )
          );
        }
        await handler(req, res, { ...result.value, operation, rawBody });
      };
      router[operation.method](operation.expressPath, route);
    },
    unbound: () => validator.operations.map((o) => o.operationId).filter((id) => !bound.has(id)),
    finish: () =>
      finishRouter(router, validator, sendProblem, (err) =>
        toApiError<Code>(err, statusTable, options.onError),
      ),
  };
}

/** The JSON body of a request to `operation`, or the problem why it cannot be read. */
function parseBody(
  req: Request,
  rawBody: Buffer,
  operation: OperationInfo,
  parseJson: (text: string) => unknown,
): unknown {
  if (!operation.body) {
    throw new ApiError<CoreErrorCode>('request.invalid', 'this operation takes no body', {
      errors: [{ pointer: '/body', message: 'must be empty' }],
    });
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!JSON_TYPE.test(type)) {
    throw new ApiError<CoreErrorCode>(
      'request.unsupported-media-type',
      'send the body as application/json',
    );
  }
  try {
    return parseJson(rawBody.toString('utf8'));
  } catch (err) {
    const e = err as { expose?: unknown; message?: unknown } | null;
    throw new ApiError<CoreErrorCode>(
      'request.malformed-json',
      e?.expose === true && typeof e.message === 'string'
        ? e.message
        : 'the body is not valid JSON',
    );
  }
}

/** 405 with `Allow` for known paths, 404 for the rest, and the problem+json error handler. */
function finishRouter<Code extends string>(
  router: Router,
  validator: OpenApiValidator,
  sendProblem: (res: Response, error: ApiError<Code | CoreErrorCode>) => void,
  toProblem: (err: unknown) => ApiError<Code | CoreErrorCode>,
): void {
  const byPath = new Map<string, Set<string>>();
  for (const op of validator.operations) {
    const methods = byPath.get(op.expressPath) ?? new Set<string>();
    methods.add(op.method.toUpperCase());
    byPath.set(op.expressPath, methods);
  }
  for (const [path, methods] of byPath) {
    router.all(path, (_req, res) => {
      res.set('Allow', [...methods].join(', '));
      sendProblem(
        res,
        new ApiError<CoreErrorCode>(
          'method.not-allowed',
          `allowed methods: ${[...methods].join(', ')}`,
        ),
      );
    });
  }
  router.use((_req, res) => {
    sendProblem(res, new ApiError<CoreErrorCode>('route.not-found', 'no such endpoint; see /docs'));
  });
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    sendProblem(res, toProblem(err));
  });
}

/**
 * The status table seen through the core codes: every code the router may be handed, mapped to
 * the contract's own code when the contract renames the core codes.
 */
interface ContractTable<Code extends string> {
  /** The contract's code for `code`, or undefined when the contract has no such code. */
  codeOf(code: string): Code | CoreErrorCode | undefined;
  readonly table: ErrorStatusTable<Code | CoreErrorCode>;
}

function contractTable<Code extends string>(options: ApiCodeTable<Code>): ContractTable<Code> {
  const table = options.statusTable as ErrorStatusTable<Code | CoreErrorCode>;
  const core = options.coreCodes as Readonly<Record<string, Code>> | undefined;
  return {
    table,
    codeOf(code) {
      const mapped = core !== undefined && Object.hasOwn(core, code) ? core[code] : code;
      return mapped !== undefined && Object.hasOwn(table, mapped)
        ? (mapped as Code | CoreErrorCode)
        : undefined;
    },
  };
}

function toApiError<Code extends string>(
  err: unknown,
  table: ContractTable<Code>,
  onError: ApiRouterOptions<Code>['onError'],
): ApiError<Code | CoreErrorCode> {
  if (err instanceof ApiError && table.codeOf(err.code) !== undefined) {
    return err as ApiError<Code | CoreErrorCode>;
  }
  // body-parser errors carry `type`; they are the client's fault, not ours.
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    return new ApiError<CoreErrorCode>('request.too-large', 'the request body is too large');
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return new ApiError<CoreErrorCode>('request.invalid', 'the request body was incomplete');
  }
  // express/router mark client errors (e.g. a path that is not valid percent-encoding) with a
  // 4xx status; their messages may echo the path, so none of it is passed on.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError<CoreErrorCode>('request.invalid', 'the request could not be parsed');
  }
  onError?.({ err });
  return new ApiError<CoreErrorCode>('internal', 'an internal error occurred; it was logged');
}

function checkResponses<Code extends string>(
  res: Response,
  operationId: string,
  validator: OpenApiValidator,
  sendProblem: (res: Response, error: ApiError<Code | CoreErrorCode>) => void,
  onError: ApiRouterOptions<Code>['onError'],
): void {
  const originalSend = res.send.bind(res);
  const originalEnd = res.end.bind(res) as (...args: unknown[]) => Response;
  let checked = false;
  const verify = (payload: unknown): boolean => {
    if (checked) return true;
    checked = true;
    const contentType = res.get('Content-Type');
    let body: unknown = payload;
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
      const text = payload.toString();
      if (text.length === 0) body = undefined;
      else if (contentType && /json/.test(contentType)) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = text;
        }
      } else body = text;
    }
    const result = validator.validateResponse(operationId, res.statusCode, contentType, body);
    if (result.ok) return true;
    onError?.({ violation: { operationId, status: res.statusCode, errors: result.errors } });
    return false;
  };
  const replace = (): Response => {
    res.removeHeader('Retry-After');
    res.send = originalSend;
    res.end = originalEnd as Response['end'];
    sendProblem(
      res,
      new ApiError<CoreErrorCode>('internal', 'the response did not match the API description'),
    );
    return res;
  };
  res.send = ((payload?: unknown) =>
    verify(payload) ? originalSend(payload) : replace()) as Response['send'];
  res.end = ((...args: unknown[]) => {
    // res.send ends through here too; only bare end() calls (e.g. 204) still need checking.
    if (!checked && !verify(typeof args[0] === 'function' ? undefined : args[0])) return replace();
    return originalEnd(...args);
  }) as Response['end'];
}
