import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createApiRouter } from '../src/express.js';
import { docsRouter } from '../src/docs.js';
import { ApiError } from '../src/problem.js';
import { parseDocument } from '../src/documents.js';
import { createOpenApiValidator } from '../src/validator.js';
import type { ResponseViolation } from '../src/express.js';

const doc = parseDocument(`
openapi: 3.1.0
info: { title: Test API, version: '1' }
paths:
  /things/{id}:
    parameters:
      - { name: id, in: path, required: true, schema: { type: integer, minimum: 1 } }
    get:
      operationId: getThing
      parameters:
        - { name: verbose, in: query, schema: { type: boolean } }
      responses:
        '200':
          description: ok
          content: { application/json: { schema: { $ref: '#/components/schemas/Thing' } } }
        '400': { $ref: '#/components/responses/Problem' }
        '404': { $ref: '#/components/responses/Problem' }
    put:
      operationId: putThing
      requestBody:
        required: true
        content: { application/json: { schema: { $ref: '#/components/schemas/Thing' } } }
      responses:
        '204': { description: stored }
        '400': { $ref: '#/components/responses/Problem' }
        '415': { $ref: '#/components/responses/Problem' }
        '429': { $ref: '#/components/responses/Problem' }
components:
  responses:
    Problem:
      description: problem
      content: { application/problem+json: { schema: { type: object, required: [code, status] } } }
  schemas:
    Thing:
      type: object
      additionalProperties: false
      required: [name]
      properties: { name: { type: string, maxLength: 5 } }
`);

const table = {
  'request.invalid': 400,
  'request.malformed-json': 400,
  'request.too-large': 413,
  'request.unsupported-media-type': 415,
  'route.not-found': 404,
  'method.not-allowed': 405,
  internal: 500,
  'thing.not-found': 404,
  'rate.limited': 429,
} as const;

let server: Server;
let base: string;
const violations: ResponseViolation[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  const api = createApiRouter<keyof typeof table>({
    validator: createOpenApiValidator(doc),
    statusTable: table,
    responseValidation: 'enforce',
    bodyLimitBytes: 100,
    // A parser with a rule of its own, as service-kit's parseJsonBody has (nesting depth).
    parseJson: (text) => {
      if (text.startsWith('[[[')) {
        throw Object.assign(new SyntaxError('nested too deeply'), { expose: true });
      }
      return JSON.parse(text) as unknown;
    },
    onError: (e) => {
      if (e.violation) violations.push(e.violation);
      if (e.err) errors.push(e.err);
    },
  });
  api.bind('getThing', (_req, res, input) => {
    const id = input.params['id'] as number;
    if (id === 7) throw new ApiError('thing.not-found', 'no thing 7');
    if (id === 8) throw new Error('boom with +15551234567');
    if (id === 9) {
      res.json({ name: 'far too long' });
      return;
    }
    res.json({ name: input.query['verbose'] === true ? 'loud' : `n${id}` });
  });
  api.bind('putThing', (_req, res, input) => {
    if ((input.body as { name: string }).name === 'slow') {
      throw new ApiError('rate.limited', 'slow down', { retryAfterSeconds: 3 });
    }
    res.status(204).end();
  });
  expect(api.unbound()).toEqual([]);
  api.finish();
  const app = express();
  app.use('/docs', docsRouter(doc));
  app.use(api.router);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function call(method: string, path: string, body?: string, type = 'application/json') {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': type } }),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    res,
    json: text ? JSON.parse(text) : undefined,
  };
}

describe('createApiRouter', () => {
  it('routes, coerces and answers', async () => {
    expect((await call('GET', '/things/3')).json).toEqual({ name: 'n3' });
    expect((await call('GET', '/things/3?verbose=true')).json).toEqual({ name: 'loud' });
    expect((await call('PUT', '/things/3', '{"name":"a"}')).status).toBe(204);
  });

  it('answers invalid requests with problem+json and pointers', async () => {
    const r = await call('GET', '/things/0?x=1');
    expect(r.status).toBe(400);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.json.code).toBe('request.invalid');
    expect(r.json.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/path/id',
      '/query/x',
    ]);
  });

  it('maps malformed JSON, wrong media type, big bodies, unknown routes and methods', async () => {
    expect((await call('PUT', '/things/1', '{')).json.code).toBe('request.malformed-json');
    expect((await call('PUT', '/things/1', 'name=a', 'text/plain')).status).toBe(415);
    const big = await call('PUT', '/things/1', JSON.stringify({ name: 'x'.repeat(200) }));
    expect([big.status, big.json.code]).toEqual([413, 'request.too-large']);
    expect((await call('GET', '/nothing')).json.code).toBe('route.not-found');
    const m = await call('DELETE', '/things/1');
    expect([m.status, m.json.code, m.res.headers.get('allow')]).toEqual([
      405,
      'method.not-allowed',
      'GET, PUT',
    ]);
  });

  it('answers what the injected JSON parser refuses with 400 and its exposed message', async () => {
    const before = errors.length;
    const deep = await call('PUT', '/things/1', '[[[1]]]');
    expect([deep.status, deep.json.code, deep.json.detail]).toEqual([
      400,
      'request.malformed-json',
      'nested too deeply',
    ]);
    expect((await call('PUT', '/things/1', '{"name":')).json.detail).toBe(
      'the body is not valid JSON',
    );
    expect(errors.length).toBe(before);
  });

  it('answers a path that is not valid percent-encoding with 400, not an internal error', async () => {
    const before = errors.length;
    const r = await call('GET', '/things/%2B1555%E0%A4%A');
    expect([r.status, r.json.code]).toEqual([400, 'request.invalid']);
    expect(JSON.stringify(r.json)).not.toContain('1555');
    expect(errors.length).toBe(before);
  });

  it('uses the status table for ApiError, sets Retry-After and hides unexpected errors', async () => {
    const nf = await call('GET', '/things/7');
    expect([nf.status, nf.json.code, nf.json.detail]).toEqual([
      404,
      'thing.not-found',
      'no thing 7',
    ]);
    const limited = await call('PUT', '/things/1', '{"name":"slow"}');
    expect([limited.status, limited.res.headers.get('retry-after')]).toEqual([429, '3']);
    const boom = await call('GET', '/things/8');
    expect([boom.status, boom.json.code]).toEqual([500, 'internal']);
    expect(JSON.stringify(boom.json)).not.toMatch(/5551234567|boom/);
    expect(errors).toHaveLength(1);
  });

  it('replaces a response that breaks the document with a 500 and reports it', async () => {
    const r = await call('GET', '/things/9');
    expect([r.status, r.json.code]).toEqual([500, 'internal']);
    expect(violations.filter((v) => v.status === 200).map((v) => v.operationId)).toEqual([
      'getThing',
    ]);
  });

  it('serves docs offline', async () => {
    const page = await fetch(`${base}/docs/`);
    expect(await page.text()).toMatch(/swagger-ui-bundle\.js/);
    const redirect = await fetch(`${base}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    const bundle = await fetch(`${base}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    const spec = await fetch(`${base}/docs/openapi.json`);
    expect(((await spec.json()) as { info: { title: string } }).info.title).toBe('Test API');
    expect((await fetch(`${base}/docs/package.json`)).status).toBe(404);
  });
});

describe('createApiRouter for a contract with codes of its own (the directory)', () => {
  const ownTable = {
    'bad-input': 400,
    'bad-name': 400,
    'too-large': 413,
    'wrong-type': 415,
    'no-such-thing': 404,
    'server-error': 500,
  } as const;
  type Own = keyof typeof ownTable;
  let own: Server;
  let ownBase: string;

  beforeAll(async () => {
    const api = createApiRouter<Own>({
      validator: createOpenApiValidator(doc),
      statusTable: ownTable,
      coreCodes: {
        'request.invalid': 'bad-input',
        'request.malformed-json': 'bad-input',
        'request.too-large': 'too-large',
        'request.unsupported-media-type': 'wrong-type',
        'route.not-found': 'no-such-thing',
        'method.not-allowed': 'no-such-thing',
        internal: 'server-error',
      },
      bodyLimitBytes: 100,
      invalidRequest: (errs) =>
        errs[0]?.pointer === '/body/name'
          ? new ApiError<Own>('bad-name', 'name: too long')
          : undefined,
    });
    api.bind('getThing', (_req, res) => void res.json({ name: 'a' }));
    api.bind('putThing', (_req, res) => void res.status(204).end());
    api.finish();
    const app = express();
    app.use(api.router);
    own = app.listen(0, '127.0.0.1');
    await new Promise((r) => own.once('listening', r));
    ownBase = `http://127.0.0.1:${(own.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => own.close(r));
  });

  it.each([
    ['PUT', '/things/1', '{"name":"far too long"}', 'application/json', 400, 'bad-name'],
    ['PUT', '/things/1', '[1]', 'application/json', 400, 'bad-input'],
    ['PUT', '/things/1', '{nope', 'application/json', 400, 'bad-input'],
    ['PUT', '/things/1', 'x'.repeat(200), 'application/json', 413, 'too-large'],
    ['PUT', '/things/1', 'x', 'text/plain', 415, 'wrong-type'],
    ['GET', '/nowhere', undefined, 'application/json', 404, 'no-such-thing'],
    ['POST', '/things/1', undefined, 'application/json', 404, 'no-such-thing'],
  ])('answers %s %s with its own code', async (method, path, body, type, status, code) => {
    const res = await fetch(`${ownBase}${path}`, {
      method,
      ...(body === undefined ? {} : { body, headers: { 'content-type': type } }),
    });
    const json = (await res.json()) as { code: string; status: number; type: string };
    expect([res.status, json.code, json.status]).toEqual([status, code, status]);
    expect(json.type).toBe(`urn:switchboard:problem:${code}`);
  });
});
