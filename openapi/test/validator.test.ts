import { createOpenApiValidator } from '../src/validator.js';
import { loadDocument, parseDocument } from '../src/documents.js';
import { DIRECTORY_CORE_CODES, DIRECTORY_ERROR_STATUS } from '../src/directory-errors.js';
import { PROVIDER_ERROR_STATUS } from '../src/provider-errors.js';
import type { CoreErrorCode } from '../src/problem.js';

const provider = loadDocument('provider');
const validator = createOpenApiValidator(provider);

describe('createOpenApiValidator', () => {
  it('lists every operation with its express path', () => {
    const bundle = validator.operation('getPrekeyBundle');
    expect(bundle.method).toBe('get');
    expect(bundle.expressPath).toBe('/v1/keys/bundles/:address');
    expect(validator.operation('getAccount').security).toEqual(['deviceSignature']);
    expect(validator.operation('createVerificationSession').security).toEqual([]);
    expect(() => validator.operation('nope')).toThrow(RangeError);
  });

  it('coerces query values and fills defaults', () => {
    const ok = validator.validateRequest('getStatement', {
      params: {},
      query: { before: '12' },
      headers: {},
      body: undefined,
    });
    expect(ok.ok && ok.value.query).toEqual({ before: 12, limit: 50 });
  });

  it('refuses unknown query parameters, bad path values and bodies with pointers', () => {
    const r = validator.validateRequest('getStatement', {
      params: {},
      query: { limt: '3' },
      headers: {},
      body: undefined,
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]?.pointer).toBe('/query/limt');
    const s = validator.validateRequest('getVerificationSession', {
      params: { sessionId: 'not-a-uuid' },
      query: {},
      headers: {},
      body: undefined,
    });
    expect(!s.ok && s.errors.map((e) => e.pointer)).toContain('/path/sessionId');
    const b = validator.validateRequest('submitVerificationCode', {
      params: { sessionId: '00000000-0000-4000-8000-000000000000' },
      query: {},
      headers: {},
      body: { code: '12345', extra: true },
    });
    expect(!b.ok && b.errors.map((e) => e.pointer).sort()).toEqual(['/body/code', '/body/extra']);
  });

  it('requires a declared body and header', () => {
    const r = validator.validateRequest('purchaseCredit', {
      params: {},
      query: {},
      headers: {},
      body: undefined,
    });
    expect(!r.ok && r.errors.map((e) => e.pointer).sort()).toEqual([
      '/body',
      '/header/idempotency-key',
    ]);
  });

  it('checks responses: declared status, media type and schema', () => {
    expect(
      validator.validateResponse('getHealth', 200, 'application/json', { status: 'ok' }).ok,
    ).toBe(true);
    expect(
      validator.validateResponse('getHealth', 200, 'application/json', { status: 'meh' }).ok,
    ).toBe(false);
    expect(validator.validateResponse('getHealth', 418, 'application/json', {}).ok).toBe(false);
    expect(validator.validateResponse('getHealth', 200, 'text/plain', 'ok').ok).toBe(false);
    expect(validator.validateResponse('deleteAccount', 204, undefined, undefined).ok).toBe(true);
    expect(validator.validateResponse('deleteAccount', 204, 'application/json', { a: 1 }).ok).toBe(
      false,
    );
    const problem = {
      type: 'urn:switchboard:problem:auth.missing',
      title: 'Unauthorized',
      status: 401,
      code: 'auth.missing',
    };
    expect(
      validator.validateResponse('getAccount', 401, 'application/problem+json', problem).ok,
    ).toBe(true);
    expect(
      validator.validateResponse('getAccount', 401, 'application/problem+json', {
        ...problem,
        code: 'x',
      }).ok,
    ).toBe(false);
  });
});

describe('provider error codes', () => {
  const enumCodes = (
    (provider.components?.['schemas'] as Record<string, { enum: string[] }>)['ErrorCode']?.enum ??
    []
  ).slice();

  it('the status table covers exactly the document enum', () => {
    expect(Object.keys(PROVIDER_ERROR_STATUS).sort()).toEqual(enumCodes.sort());
  });

  it('includes the core codes the shared HTTP layer produces', () => {
    const core: CoreErrorCode[] = [
      'request.invalid',
      'request.malformed-json',
      'request.too-large',
      'request.unsupported-media-type',
      'route.not-found',
      'method.not-allowed',
      'internal',
    ];
    for (const c of core) expect(enumCodes).toContain(c);
  });
});

describe('directory problem codes', () => {
  const directory = loadDocument('directory');
  const components = directory.components as Record<string, Record<string, unknown>>;
  const enumCodes = (
    (components['schemas'] as Record<string, { enum: string[] }>)['ProblemCode']?.enum ?? []
  ).slice();

  it('the status table covers exactly the document enum', () => {
    expect(Object.keys(DIRECTORY_ERROR_STATUS).sort()).toEqual(enumCodes.sort());
  });

  it('gives each code the status of the response the document lists it under', () => {
    const statusOf: Record<string, number> = {
      BadRequest: 400,
      Unauthenticated: 401,
      Forbidden: 403,
      NotFound: 404,
      Conflict: 409,
      PayloadTooLarge: 413,
      UnsupportedMediaType: 415,
      TooManyRequests: 429,
      InternalError: 500,
    };
    const listed = new Map<string, number>();
    const responses = components['responses'] as Record<string, { description: string }>;
    for (const [name, response] of Object.entries(responses)) {
      const status = statusOf[name];
      expect(status).toBeDefined();
      for (const m of response.description.matchAll(/`([a-z-]+)`/g))
        listed.set(m[1] ?? '', status ?? 0);
    }
    for (const [code, status] of listed)
      expect([code, DIRECTORY_ERROR_STATUS[code as keyof typeof DIRECTORY_ERROR_STATUS]]).toEqual([
        code,
        status,
      ]);
    // Every code is listed somewhere but the ones only the router or /healthz produce.
    const unlisted = enumCodes.filter((c) => !listed.has(c)).sort();
    expect(unlisted).toEqual(['not-found', 'not-ready']);
  });

  it('maps every core code of the shared router to a code of the document', () => {
    for (const code of Object.values(DIRECTORY_CORE_CODES)) expect(enumCodes).toContain(code);
  });
});

describe('parseDocument', () => {
  it('refuses non-3.1 documents and non-objects', () => {
    expect(() => parseDocument('openapi: 3.0.3\npaths: {}\n')).toThrow(/3\.1/);
    expect(() => parseDocument('42')).toThrow(/object/);
    expect(() => parseDocument('openapi: 3.1.0\n')).toThrow(/paths/);
  });
});

describe('provider document invariants', () => {
  it('every operation declares 400, since any request can fail validation', () => {
    const missing = validator.operations
      .filter((o) => !o.responses.has(400))
      .map((o) => o.operationId);
    expect(missing).toEqual([]);
  });

  it('every operation with a body declares 413 and 415, every signed one 401', () => {
    for (const op of validator.operations) {
      if (op.body)
        expect([op.operationId, op.responses.has(413), op.responses.has(415)]).toEqual([
          op.operationId,
          true,
          true,
        ]);
      if (op.security.length > 0)
        expect([op.operationId, op.responses.has(401)]).toEqual([op.operationId, true]);
    }
  });
});

describe('stored free text', () => {
  it('refuses control characters (PostgreSQL cannot store NUL in text)', () => {
    const body = (uri: string) => ({
      params: {},
      query: {},
      headers: {},
      body: { discoverable: true, contacts: [{ service: 'sip', uri }] },
    });
    expect(validator.validateRequest('setDiscoverability', body('sip:a\u0000b@x.net')).ok).toBe(
      false,
    );
    expect(validator.validateRequest('setDiscoverability', body('sip:alice@x.net')).ok).toBe(true);
    const key = (name: string) => ({
      params: {},
      query: {},
      headers: {},
      body: { name, scopes: ['admin:keys'] },
    });
    expect(validator.validateRequest('createApiKey', key('bot\u0007')).ok).toBe(false);
    expect(validator.validateRequest('createApiKey', key('billing bot')).ok).toBe(true);
  });
});
