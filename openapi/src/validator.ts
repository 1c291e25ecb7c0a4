import type { AnySchema, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { OpenApiDocument } from './documents.js';
import type { FieldError } from './problem.js';

// ajv-formats is CommonJS; under NodeNext its plugin is the `default` of the module object.
const addFormats = addFormatsModule.default;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
/** HTTP methods an OpenAPI path item may define. */
export type HttpMethod = (typeof METHODS)[number];

/** Where a parameter lives (cookies are not used by Switchboard contracts). */
export type ParameterLocation = 'path' | 'query' | 'header';

/** One parameter of an operation, references resolved. */
export interface ParameterInfo {
  readonly name: string;
  readonly in: ParameterLocation;
  readonly required: boolean;
  readonly schema: unknown;
}

/** One operation of the document, references resolved, ready for routing and validation. */
export interface OperationInfo {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** Path template as written in the document, e.g. `/v1/keys/bundles/{address}`. */
  readonly path: string;
  /** The same template in express syntax, e.g. `/v1/keys/bundles/:address`. */
  readonly expressPath: string;
  readonly parameters: readonly ParameterInfo[];
  /** The JSON body schema, when the operation takes a body. */
  readonly body: { readonly required: boolean; readonly schema: unknown } | undefined;
  /** Declared statuses and, per status, the media types with their schemas (none for 204). */
  readonly responses: ReadonlyMap<number, ReadonlyMap<string, unknown>>;
  /** Names of the security schemes that may authorise it (empty: public). */
  readonly security: readonly string[];
}

/** A request as the validator sees it (already parsed; header names lower-case). */
export interface RequestParts {
  readonly params: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, unknown>>;
  /** The parsed JSON body, or undefined when the request had none. */
  readonly body: unknown;
}

/** A request after validation: values coerced to their schema types, defaults filled in. */
export interface ValidatedRequest {
  readonly params: Record<string, unknown>;
  readonly query: Record<string, unknown>;
  readonly headers: Record<string, unknown>;
  readonly body: unknown;
}

/** The outcome of validating one request or response. */
export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

/** Validation for every operation of one OpenAPI 3.1 document. */
export interface OpenApiValidator {
  readonly document: OpenApiDocument;
  readonly operations: readonly OperationInfo[];
  /** The operation with this id; throws if the document has none. */
  operation(operationId: string): OperationInfo;
  /** Validates (and coerces) path, query, header parameters and the body of a request. */
  validateRequest(operationId: string, request: RequestParts): ValidationResult<ValidatedRequest>;
  /**
   * Checks a response against the document: the status must be declared, and a body must match
   * the schema of its media type (a body-less response must declare no content).
   */
  validateResponse(
    operationId: string,
    status: number,
    contentType: string | undefined,
    body: unknown,
  ): ValidationResult<unknown>;
}

interface CompiledOperation {
  readonly info: OperationInfo;
  readonly params: ValidateFunction;
  readonly query: ValidateFunction;
  readonly headers: ValidateFunction;
  readonly body: ValidateFunction | undefined;
  readonly responses: ReadonlyMap<number, ReadonlyMap<string, ValidateFunction>>;
}

// Component schemas are registered one by one under these ids; local references are rewritten.
const SCHEMA_BASE = 'https://switchboard.invalid/openapi/schemas/';
const LOCAL_SCHEMA_REF = '#/components/schemas/';

/**
 * Compiles request and response validators for every operation of a document with ajv
 * (JSON Schema draft 2020-12, the dialect of OpenAPI 3.1) and ajv-formats.
 *
 * @example
 * const validator = createOpenApiValidator(loadDocument('provider'));
 * const result = validator.validateRequest('getPrekeyBundle', { params, query, headers, body });
 */
export function createOpenApiValidator(document: OpenApiDocument): OpenApiValidator {
  const strictAjv = newAjv(false);
  // Path, query and header values arrive as strings: coerce them to their schema types.
  const coercingAjv = newAjv(true);
  const schemas = (document.components?.['schemas'] ?? {}) as Record<string, unknown>;
  for (const ajv of [strictAjv, coercingAjv]) {
    for (const [name, schema] of Object.entries(schemas)) {
      ajv.addSchema(rebase(schema), `${SCHEMA_BASE}${name}`);
    }
  }
  const compiled = new Map<string, CompiledOperation>();
  for (const info of collectOperations(document))
    compiled.set(info.operationId, compileOperation(info, strictAjv, coercingAjv));
  const get = (operationId: string): CompiledOperation => {
    const op = compiled.get(operationId);
    if (!op) throw new RangeError(`the document has no operation ${operationId}`);
    return op;
  };
  return {
    document,
    operations: [...compiled.values()].map((c) => c.info),
    operation: (operationId) => get(operationId).info,
    validateRequest: (operationId, request) => validateRequestOf(get(operationId), request),
    validateResponse: (operationId, status, contentType, body) =>
      validateResponseOf(get(operationId), status, contentType, body),
  };
}

/** Parameter validators by location, the body's, and each response's by status and media type. */
function compileOperation(
  info: OperationInfo,
  strictAjv: Ajv2020,
  coercingAjv: Ajv2020,
): CompiledOperation {
  const byLocation = (where: ParameterLocation): ValidateFunction => {
    const params = info.parameters.filter((p) => p.in === where);
    const name = (p: ParameterInfo): string => (where === 'header' ? p.name.toLowerCase() : p.name);
    return coercingAjv.compile({
      type: 'object',
      properties: Object.fromEntries(params.map((p) => [name(p), rebase(p.schema)])),
      required: params.filter((p) => p.required).map(name),
      // Unknown query parameters are refused (a typo must not silently do nothing); other
      // headers are of course allowed.
      additionalProperties: where !== 'query',
    });
  };
  const responses = new Map<number, Map<string, ValidateFunction>>();
  for (const [status, media] of info.responses) {
    const compiledMedia = new Map<string, ValidateFunction>();
    for (const [type, schema] of media) compiledMedia.set(type, strictAjv.compile(rebase(schema)));
    responses.set(status, compiledMedia);
  }
  return {
    info,
    params: byLocation('path'),
    query: byLocation('query'),
    headers: byLocation('header'),
    body: info.body ? strictAjv.compile(rebase(info.body.schema)) : undefined,
    responses,
  };
}

function validateRequestOf(
  op: CompiledOperation,
  request: RequestParts,
): ValidationResult<ValidatedRequest> {
  const errors: FieldError[] = [];
  const params = { ...request.params };
  const query = { ...request.query };
  const headers = { ...request.headers };
  check(op.params, params, '/path', errors);
  check(op.query, query, '/query', errors);
  check(op.headers, headers, '/header', errors);
  let body = request.body;
  if (op.body) {
    if (body === undefined) {
      if (op.info.body?.required)
        errors.push({ pointer: '/body', message: 'a JSON body is required' });
    } else {
      body = structuredClone(body);
      check(op.body, body, '/body', errors);
    }
  } else if (body !== undefined) {
    errors.push({ pointer: '/body', message: 'this operation takes no body' });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { params, query, headers, body } };
}

function validateResponseOf(
  op: CompiledOperation,
  status: number,
  contentType: string | undefined,
  body: unknown,
): ValidationResult<unknown> {
  const media = op.responses.get(status);
  if (!media) {
    return {
      ok: false,
      errors: [{ pointer: '/status', message: `status ${status} is not declared` }],
    };
  }
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (media.size === 0) {
    return body === undefined || body === ''
      ? { ok: true, value: body }
      : {
          ok: false,
          errors: [{ pointer: '/body', message: `status ${status} declares no body` }],
        };
  }
  const validate = type === undefined ? undefined : media.get(type);
  if (!validate) {
    return {
      ok: false,
      errors: [
        {
          pointer: '/content-type',
          message: `content type ${type ?? 'none'} is not declared for ${status}`,
        },
      ],
    };
  }
  const errors: FieldError[] = [];
  check(validate, body, '/body', errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: body };
}

function newAjv(coerce: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    coerceTypes: coerce,
    useDefaults: true,
    // OpenAPI 3.1 annotation keywords that are not JSON Schema keywords.
    keywords: ['example', 'discriminator', 'xml', 'externalDocs'],
  });
  addFormats(ajv);
  return ajv;
}

function check(
  validate: ValidateFunction,
  value: unknown,
  prefix: string,
  out: FieldError[],
): void {
  if (validate(value)) return;
  for (const e of validate.errors ?? []) out.push(fieldError(e, prefix));
}

function fieldError(e: ErrorObject, prefix: string): FieldError {
  let pointer = `${prefix}${e.instancePath}`;
  if (e.keyword === 'required') {
    pointer += `/${escapePointer(String((e.params as { missingProperty: string }).missingProperty))}`;
  } else if (e.keyword === 'additionalProperties') {
    pointer += `/${escapePointer(String((e.params as { additionalProperty: string }).additionalProperty))}`;
  }
  // ajv messages describe the schema, never echo the value, so they are safe to return.
  return { pointer, message: e.message ?? e.keyword };
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Points local `#/components/schemas/...` references at the registered component schemas. */
function rebase(schema: unknown): AnySchema {
  return rebaseValue(schema) as AnySchema;
}

function rebaseValue(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebaseValue);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith(LOCAL_SCHEMA_REF)
        ? `${SCHEMA_BASE}${v.slice(LOCAL_SCHEMA_REF.length)}`
        : rebaseValue(v),
    ]),
  );
}

/** Resolves a `#/...` reference (of parameters, responses, request bodies) in the document. */
function deref(document: OpenApiDocument, value: unknown): unknown {
  let current = value;
  for (let hops = 0; hops < 16; hops++) {
    const ref = (current as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== 'string') return current;
    if (!ref.startsWith('#/')) throw new RangeError(`only local references are supported: ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>(
        (node, key) => (node as Record<string, unknown> | undefined)?.[key],
        document,
      );
    if (current === undefined) throw new RangeError(`unresolved reference ${ref}`);
  }
  throw new RangeError('reference chain too long');
}

/** Lists every operation of a document with its references resolved. */
export function collectOperations(document: OpenApiDocument): OperationInfo[] {
  const out: OperationInfo[] = [];
  const globalSecurity = securityNames(document['security']);
  for (const [path, rawItem] of Object.entries(document.paths)) {
    const item = deref(document, rawItem) as Record<string, unknown>;
    const shared = ((item['parameters'] as unknown[] | undefined) ?? []).map((p) =>
      deref(document, p),
    );
    for (const method of METHODS) {
      const op = item[method] as Record<string, unknown> | undefined;
      if (!op) continue;
      const operationId = op['operationId'];
      if (typeof operationId !== 'string')
        throw new RangeError(`${method} ${path} has no operationId`);
      const own = ((op['parameters'] as unknown[] | undefined) ?? []).map((p) =>
        deref(document, p),
      );
      const params = new Map<string, ParameterInfo>();
      for (const raw of [...shared, ...own]) {
        const p = raw as { name: string; in: string; required?: boolean; schema?: unknown };
        if (p.in !== 'path' && p.in !== 'query' && p.in !== 'header') continue;
        params.set(`${p.in}:${p.name}`, {
          name: p.name,
          in: p.in,
          required: p.in === 'path' || p.required === true,
          schema: p.schema ?? {},
        });
      }
      const requestBody = op['requestBody']
        ? (deref(document, op['requestBody']) as {
            required?: boolean;
            content?: Record<string, { schema?: unknown }>;
          })
        : undefined;
      const jsonBody = requestBody?.content?.['application/json'];
      const responses = new Map<number, Map<string, unknown>>();
      for (const [status, rawResponse] of Object.entries(
        (op['responses'] as Record<string, unknown>) ?? {},
      )) {
        const code = Number(status);
        if (!Number.isInteger(code))
          throw new RangeError(`${operationId}: only numeric statuses are supported`);
        const response = deref(document, rawResponse) as {
          content?: Record<string, { schema?: unknown }>;
        };
        responses.set(
          code,
          new Map(
            Object.entries(response.content ?? {}).map(([type, m]) => [type, m.schema ?? {}]),
          ),
        );
      }
      out.push({
        operationId,
        method,
        path,
        expressPath: path.replace(/\{([^}]+)\}/g, ':$1'),
        parameters: [...params.values()],
        body: jsonBody
          ? { required: requestBody?.required === true, schema: jsonBody.schema ?? {} }
          : undefined,
        responses,
        security: op['security'] === undefined ? globalSecurity : securityNames(op['security']),
      });
    }
  }
  return out;
}

function securityNames(security: unknown): string[] {
  if (!Array.isArray(security)) return [];
  return security.flatMap((requirement) => Object.keys(requirement as object));
}
