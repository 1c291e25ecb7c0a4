// Technical requirements of an HTTP API (CHARTER.md, "Providers"): it behaves as its OpenAPI 3.1
// document says, errors are RFC 9457 problem+json, and repeated calls are rate limited.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { AuditCheck } from './report.js';

type Check = Omit<AuditCheck, 'target'>;
type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const MAX_PROBES = 40;
const DOC_ID = 'urn:switchboard:audit:openapi';

export interface HttpAuditOptions {
  readonly baseUrl: string;
  /** The OpenAPI document text (YAML or JSON); when absent it is fetched from the service. */
  readonly openapi?: { readonly path: string; readonly text: string };
  /** Path (may include a query) to hammer for the rate-limit check. */
  readonly rateLimitPath?: string;
  /**
   * When no unauthenticated GET declares 429, probe the first plain GET anyway (`true`, the
   * provider API: every public endpoint must be limited) or skip (`false`, the directory's publish
   * API, whose repeatable calls all need a provider signature).
   */
  readonly rateLimitUndeclared?: boolean;
  readonly burst: number;
  readonly timeoutMs: number;
}

const isObject = (v: unknown): v is Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Follows `#/...` references of non-schema objects (responses, parameters) inside the document. */
function deref(doc: Json, value: unknown): unknown {
  let v = value;
  for (let hops = 0; hops < 16 && isObject(v) && typeof v['$ref'] === 'string'; hops += 1) {
    const ref = v['$ref'];
    if (!ref.startsWith('#/')) return undefined;
    v = ref
      .slice(2)
      .split('/')
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<unknown>((node, token) => (isObject(node) ? node[token] : undefined), doc);
  }
  return v;
}

/** Points local schema references at the registered document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!isObject(schema)) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${DOC_ID}${v}` : rebase(v),
    ]),
  );
}

function parseDocument(text: string): Json {
  const value: unknown = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  if (!isObject(value) || typeof value['openapi'] !== 'string' || !isObject(value['paths'])) {
    throw new Error('not an OpenAPI document');
  }
  return value;
}

async function fetchWithTimeout(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  return fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
}

async function loadDocument(o: HttpAuditOptions): Promise<{ doc: Json; source: string }> {
  if (o.openapi !== undefined)
    return { doc: parseDocument(o.openapi.text), source: o.openapi.path };
  for (const p of ['/openapi.json', '/openapi.yaml', '/docs/openapi.json']) {
    const url = new URL(p, o.baseUrl).href;
    try {
      const res = await fetchWithTimeout(url, {}, o.timeoutMs);
      if (res.ok) return { doc: parseDocument(await res.text()), source: url };
    } catch {
      // try the next conventional place
    }
  }
  throw new Error(
    'no OpenAPI document given (--openapi) and none served at /openapi.json or /openapi.yaml',
  );
}

function sampleFor(param: Json): string {
  const schema = isObject(param['schema']) ? param['schema'] : {};
  for (const v of [
    param['example'],
    schema['example'],
    Array.isArray(schema['examples']) ? schema['examples'][0] : undefined,
  ]) {
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  if (Array.isArray(schema['enum']) && schema['enum'].length > 0) return String(schema['enum'][0]);
  if (schema['type'] === 'integer' || schema['type'] === 'number') return '1';
  return `audit-${randomBytes(6).toString('hex')}`;
}

function documentedResponse(op: Json, doc: Json, status: number): Json | undefined {
  const responses = isObject(op['responses']) ? op['responses'] : {};
  const hit =
    responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses['default'];
  const r = deref(doc, hit);
  return isObject(r) ? r : hit === undefined ? undefined : {};
}

interface Probe {
  readonly method: string;
  readonly template: string;
  readonly op: Json;
  readonly secured: boolean;
}

function probesOf(doc: Json): Probe[] {
  const globalSecurity = Array.isArray(doc['security']) ? doc['security'] : [];
  const out: Probe[] = [];
  for (const [template, item] of Object.entries(doc['paths'] as Json)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const security = Array.isArray(op['security']) ? op['security'] : globalSecurity;
      const secured =
        security.length > 0 &&
        security.every((req) => isObject(req) && Object.keys(req).length > 0);
      const hasBody = isObject(op['requestBody']);
      // Without credentials, only calls that cannot change anything: reads, calls the API must
      // refuse as unauthenticated, and writes whose empty body the API must refuse as invalid.
      if (method === 'get' || secured || hasBody) out.push({ method, template, op, secured });
    }
  }
  return out.slice(0, MAX_PROBES);
}

function mediaType(res: Response): string {
  return (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

async function probe(o: HttpAuditOptions, doc: Json, ajv: Ajv2020, p: Probe): Promise<Check> {
  const label = `${p.method.toUpperCase()} ${p.template}`;
  const id = `openapi ${label}`;
  const what = p.secured
    ? `${label} without credentials is refused with a status and body its OpenAPI document declares`
    : p.method === 'get'
      ? `${label} answers with a status and body its OpenAPI document declares`
      : `${label} with an empty JSON object is refused with a declared status and body`;
  const res = await sendProbe(o, doc, p);
  const text = await res.text();
  const declared = documentedResponse(p.op, doc, res.status);
  const verdict =
    statusVerdict(p, declared, res.status) ??
    bodyVerdict(ajv, declared as Json, res.status, mediaType(res), text);
  return { id, checks: what, ...verdict };
}

type Verdict = Pick<Check, 'status' | 'reason'>;

/** Sends the probe: path parameters filled with samples, an empty JSON object as any body. */
async function sendProbe(o: HttpAuditOptions, doc: Json, p: Probe): Promise<Response> {
  const params = [
    ...(Array.isArray(p.op['parameters']) ? p.op['parameters'] : []),
    ...(Array.isArray((deref(doc, (doc['paths'] as Json)[p.template]) as Json)['parameters'])
      ? ((deref(doc, (doc['paths'] as Json)[p.template]) as Json)['parameters'] as unknown[])
      : []),
  ]
    .map((x) => deref(doc, x))
    .filter(isObject);
  let path = p.template;
  for (const param of params.filter((x) => x['in'] === 'path')) {
    path = path.replace(`{${String(param['name'])}}`, encodeURIComponent(sampleFor(param)));
  }
  const hasBody = p.method !== 'get' && p.method !== 'delete' && isObject(p.op['requestBody']);
  return fetchWithTimeout(
    new URL(path.replace(/^\//, ''), o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`).href,
    {
      method: p.method.toUpperCase(),
      headers: {
        accept: 'application/json, application/problem+json',
        ...(hasBody ? { 'content-type': 'application/json' } : {}),
      },
      ...(hasBody ? { body: '{}' } : {}),
    },
    o.timeoutMs,
  );
}

/** A failure if the status is undeclared, or a success where the probe must be refused. */
function statusVerdict(p: Probe, declared: Json | undefined, status: number): Verdict | undefined {
  if (declared === undefined)
    return { status: 'fail', reason: `answered ${status}, which the document does not declare` };
  if (p.secured && status < 400)
    return { status: 'fail', reason: `answered ${status} without credentials` };
  if (p.method !== 'get' && !p.secured && status < 400)
    return { status: 'fail', reason: `accepted an empty object with ${status}` };
  return undefined;
}

/** Whether the body has a declared content type and, for JSON, matches the declared schema. */
function bodyVerdict(
  ajv: Ajv2020,
  declared: Json,
  status: number,
  type: string,
  text: string,
): Verdict {
  const content = isObject(declared['content']) ? declared['content'] : undefined;
  if (content === undefined || Object.keys(content).length === 0) {
    return { status: 'pass', reason: `${status}, declared without a body` };
  }
  const media = content[type] ?? content['*/*'];
  if (!isObject(media)) {
    return {
      status: 'fail',
      reason: `${status} with content-type "${type || 'none'}"; declared: ${Object.keys(content).join(', ')}`,
    };
  }
  if (!type.endsWith('json') || !isObject(media['schema'])) {
    return { status: 'pass', reason: `${status} ${type}` };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { status: 'fail', reason: `${status} ${type} but the body is not JSON` };
  }
  const validate = ajv.compile(rebase(media['schema']) as Json);
  if (!validate(body)) {
    const e = validate.errors?.[0];
    return {
      status: 'fail',
      reason: `${status} body does not match the declared schema at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`,
    };
  }
  return { status: 'pass', reason: `${status} ${type}, body matches the declared schema` };
}

async function problemJson(o: HttpAuditOptions): Promise<Check> {
  const what = 'an unknown path is answered 404 as RFC 9457 application/problem+json';
  const url = new URL(
    `audit-${randomBytes(6).toString('hex')}`,
    o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`,
  ).href;
  const res = await fetchWithTimeout(url, { headers: { accept: 'application/json' } }, o.timeoutMs);
  const type = mediaType(res);
  await res.text();
  if (res.status === 404 && type === 'application/problem+json') {
    return {
      id: 'problem-json',
      checks: what,
      status: 'pass',
      reason: '404 application/problem+json',
    };
  }
  return {
    id: 'problem-json',
    checks: what,
    status: 'fail',
    reason: `${res.status} ${type || 'without content-type'}`,
  };
}

/** The first unauthenticated GET whose document declares 429, else the first GET without parameters. */
function rateLimitTarget(doc: Json, undeclared: boolean): string | undefined {
  const gets = probesOf(doc).filter((p) => p.method === 'get' && !p.secured);
  const limited = gets.find(
    (p) => isObject(p.op['responses']) && '429' in (p.op['responses'] as Json),
  );
  const pick = limited ?? (undeclared ? gets.find((p) => !p.template.includes('{')) : undefined);
  return pick?.template.replace(/\{[^}]+\}/g, () => `audit-${randomBytes(4).toString('hex')}`);
}

async function rateLimit(o: HttpAuditOptions, doc: Json | undefined): Promise<Check> {
  const path =
    o.rateLimitPath ??
    (doc === undefined ? undefined : rateLimitTarget(doc, o.rateLimitUndeclared ?? true));
  const what = `${o.burst} quick requests from one client: some must be answered 429, or RateLimit headers must be sent`;
  if (path === undefined) {
    return {
      id: 'http-rate-limit',
      checks: what,
      status: 'skip',
      reason:
        'no unauthenticated GET declares 429 (signed calls cannot be probed without a key); give --rate-limit-path to choose one',
    };
  }
  const url = new URL(
    path.replace(/^\//, ''),
    o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`,
  ).href;
  let limited = 0;
  let retryAfter = 0;
  let headers = false;
  const statuses = new Map<number, number>();
  const batch = 20;
  for (let sent = 0; sent < o.burst && limited === 0; sent += batch) {
    const n = Math.min(batch, o.burst - sent);
    const results = await Promise.all(
      Array.from({ length: n }, () =>
        fetchWithTimeout(url, {}, o.timeoutMs).then(async (r) => {
          await r.arrayBuffer();
          return r;
        }),
      ),
    );
    for (const r of results) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 429) {
        limited += 1;
        if (r.headers.has('retry-after')) retryAfter += 1;
      }
      if (
        r.headers.has('ratelimit') ||
        r.headers.has('ratelimit-limit') ||
        r.headers.has('x-ratelimit-limit')
      )
        headers = true;
    }
  }
  const seen = [...statuses].map(([s, c]) => `${c}x${s}`).join(', ');
  if (limited > 0) {
    return {
      id: 'http-rate-limit',
      checks: what,
      status: 'pass',
      reason: `GET ${path}: ${seen}; ${retryAfter === limited ? 'every 429 carries Retry-After' : 'some 429 lack Retry-After'}`,
    };
  }
  if (headers)
    return {
      id: 'http-rate-limit',
      checks: what,
      status: 'pass',
      reason: `GET ${path}: ${seen}, RateLimit headers present`,
    };
  return {
    id: 'http-rate-limit',
    checks: what,
    status: 'fail',
    reason: `GET ${path}: ${seen}; never limited`,
  };
}

/** Runs the HTTP checks against `baseUrl`. */
export async function auditHttpApi(o: HttpAuditOptions): Promise<Check[]> {
  const out: Check[] = [];
  let doc: Json | undefined;
  try {
    const loaded = await loadDocument(o);
    doc = loaded.doc;
    out.push({
      id: 'openapi-document',
      checks: 'an OpenAPI 3.x document for the API is available',
      status: 'pass',
      reason: `OpenAPI ${String(doc['openapi'])} from ${loaded.source}`,
    });
  } catch (err) {
    out.push({
      id: 'openapi-document',
      checks: 'an OpenAPI 3.x document for the API is available',
      status: 'fail',
      reason: (err as Error).message,
    });
  }
  if (doc !== undefined) {
    const ajv = new Ajv2020({
      strict: false,
      validateFormats: false,
      validateSchema: false,
      logger: false,
      allErrors: false,
    });
    ajv.addSchema({ $id: DOC_ID, components: doc['components'] ?? {} } as Json);
    for (const p of probesOf(doc)) {
      try {
        out.push(await probe(o, doc, ajv, p));
      } catch (err) {
        out.push({
          id: `openapi ${p.method.toUpperCase()} ${p.template}`,
          checks: `${p.method.toUpperCase()} ${p.template} behaves as declared`,
          status: 'fail',
          reason: `request failed: ${(err as Error).message}`,
        });
      }
    }
  }
  for (const run of [() => problemJson(o), () => rateLimit(o, doc)]) {
    try {
      out.push(await run());
    } catch (err) {
      out.push({
        id: 'http',
        checks: 'the API answers',
        status: 'fail',
        reason: `request failed: ${(err as Error).message}`,
      });
    }
  }
  return out;
}
