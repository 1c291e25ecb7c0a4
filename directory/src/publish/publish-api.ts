import { createHash, randomUUID } from 'node:crypto';
import type { Request, Response, NextFunction, Express } from 'express';
import express from 'express';
import { formatRecord } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { E164Error, enumNameFor, parseE164 } from '@switchboard/e164';
import type { ReplayCache } from '@switchboard/http-signature';
import { HttpSignatureError, verifyRequest } from '@switchboard/http-signature';
import type { OpenApiValidator } from '@switchboard/openapi';
import { createOpenApiValidator, loadDocument } from '@switchboard/openapi';
import type { Logger } from '@switchboard/service-kit';
import {
  clientPrefix,
  JsonDepthError,
  parseJsonBody,
  RateLimiter,
  securityHeaders,
} from '@switchboard/service-kit';
import { MoveProofError, parseMoveProof, verifyMoveProof } from './move-proof.js';
import type { ProviderKeyResolver } from './providers.js';
import type { NumberEntry } from '../zone/records.js';
import {
  checkContacts,
  checkIdentityKey,
  checkServable,
  RecordInputError,
  recordsForEntry,
} from '../zone/records.js';
import type { DirectoryStore } from '../state/store.js';
import type { ZoneState } from '../state/zone-state.js';
import type { ZoneKeyMaterial } from '../zone/keys.js';

/** Problem codes of openapi/directory.yaml, with their HTTP status (one exhaustive table). */
export const PROBLEM_STATUS = {
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
} as const;
export type ProblemCode = keyof typeof PROBLEM_STATUS;

/** An error that becomes an RFC 9457 problem response. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

const SIGNATURE_CODES: Readonly<Record<HttpSignatureError['code'], ProblemCode>> = {
  missing: 'signature-missing',
  malformed: 'signature-malformed',
  unsupported: 'signature-malformed',
  'unknown-key': 'unknown-key',
  'bad-signature': 'bad-signature',
  stale: 'stale-request',
  replayed: 'replayed-request',
  'digest-mismatch': 'digest-mismatch',
};

/** What the publish API needs. */
export interface PublishApiConfig {
  readonly store: DirectoryStore;
  readonly zone: ZoneState;
  readonly keys: ZoneKeyMaterial;
  readonly providers: ProviderKeyResolver;
  readonly replayCache: ReplayCache;
  readonly logger: Logger;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** True once every RRset of the served zone is signed ahead of queries (`/healthz`). */
  readonly warm?: () => boolean;
  /** Signed requests per provider per minute. Default 600. */
  readonly perProviderPerMinute?: number;
  /** Requests per client prefix (IPv4 /32, IPv6 /64) per minute. Default 1200. */
  readonly perAddressPerMinute?: number;
  /**
   * Unauthenticated requests (`/v1/zone`, `/healthz`, unknown paths) per client
   * prefix per minute. Default 120: enough for probes and scrapers, not for a flood.
   */
  readonly publicPerClientPerMinute?: number;
}

/**
 * The directory's publish API (openapi/directory.yaml): providers PUT/DELETE numbers with
 * RFC 9421-signed requests; the zone's trust anchor is public.
 */
export function createPublishApi(config: PublishApiConfig): Express {
  const app = express();
  // The request schema comes from the contract itself (STYLE.md habit 4); the checks in
  // records.ts and move-proof.ts add what a schema cannot say (key type byte, URI per service).
  const contract = createOpenApiValidator(loadDocument('directory'));
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders());
  const perAddress = new RateLimiter(
    { capacity: config.perAddressPerMinute ?? 1200, perSeconds: 60 },
    { now: config.now },
  );
  const perProvider = new RateLimiter(
    { capacity: config.perProviderPerMinute ?? 600, perSeconds: 60 },
    { now: config.now },
  );

  const publicLimit = config.publicPerClientPerMinute ?? 120;
  const perClientPublic = new RateLimiter(
    { capacity: publicLimit, perSeconds: 60 },
    { now: config.now },
  );

  const addressLimit = config.perAddressPerMinute ?? 1200;
  app.use((req, res, next) => {
    // By prefix, not address: one IPv6 host holds a whole /64.
    const client = clientPrefix(req.socket.remoteAddress ?? '');
    const d = perAddress.take(client);
    // draft-ietf-httpapi-ratelimit-headers: the policy and what is left of it.
    res.set('RateLimit-Policy', `"per-address";q=${addressLimit};w=60`);
    res.set('RateLimit', `"per-address";r=${d.allowed ? d.remaining : 0}`);
    if (!d.allowed) {
      next(
        new ApiProblem('rate-limited', 'too many requests from this address', d.retryAfterSeconds),
      );
      return;
    }
    // Signed requests have per-provider limits; everything else shares a tighter public budget.
    if (req.path === '/v1/numbers' || req.path.startsWith('/v1/numbers/')) {
      next();
      return;
    }
    const p = perClientPublic.take(client);
    res.set(
      'RateLimit-Policy',
      `"per-address";q=${addressLimit};w=60, "public";q=${publicLimit};w=60`,
    );
    res.set(
      'RateLimit',
      `"per-address";r=${d.remaining}, "public";r=${p.allowed ? p.remaining : 0}`,
    );
    if (!p.allowed) {
      next(
        new ApiProblem(
          'rate-limited',
          'too many unauthenticated requests from this address',
          p.retryAfterSeconds,
        ),
      );
      return;
    }
    next();
  });

  app.get('/healthz', async (_req, res, next) => {
    try {
      const serial = await config.store.serial();
      res.json({ status: 'ok', serial, warm: config.warm?.() ?? true });
    } catch {
      next(new ApiProblem('not-ready', 'the database is not reachable'));
    }
  });

  app.get('/v1/zone', (_req, res) => {
    const { key, ds } = config.keys;
    const apex = config.zone.snapshot.settings.apex;
    const dnskey = formatRecord({
      name: apex,
      type: 48,
      class: 1,
      ttl: config.zone.snapshot.settings.dnskeyTtl,
      data: key.dnskey,
    });
    const dsText = formatRecord({ name: apex, type: 43, class: 1, ttl: 3600, data: ds });
    res.json({
      apex,
      serial: config.zone.snapshot.serial,
      algorithm: key.algorithm,
      dnskey,
      ds: [dsText],
      trustAnchor: trustAnchorClause(apex, key.dnskey),
    });
  });

  const numbers = express.Router();
  numbers.use(
    express.raw({ type: () => true, limit: '16kb' }),
    (req: Request, _res: Response, next: NextFunction) => {
      authenticate(req, config, perProvider).then(
        () => next(),
        (err: unknown) => next(err),
      );
    },
  );
  numbers.get('/:number', async (req, res, next) => {
    try {
      const number = numberParam(req);
      const entry = await config.store.get(number);
      if (!entry || entry.provider !== providerOf(req)) {
        throw new ApiProblem('number-not-found', 'this provider publishes no such number');
      }
      res.json(entryBody(entry, config));
    } catch (err) {
      next(err);
    }
  });
  numbers.put('/:number', async (req, res, next) => {
    try {
      const number = numberParam(req);
      const body = jsonBody(req);
      checkAgainstContract(contract, req, number, body);
      const result = await publish(number, body, providerOf(req), config);
      await config.zone.refresh();
      config.logger.info(
        { provider: providerOf(req), serial: result.entry.serial, created: result.created },
        'number published',
      );
      res.status(result.created ? 201 : 200).json(entryBody(result.entry, config));
    } catch (err) {
      next(err);
    }
  });
  numbers.delete('/:number', async (req, res, next) => {
    try {
      const number = numberParam(req);
      if (req.body instanceof Buffer && req.body.length > 0) {
        throw new ApiProblem('invalid-body', 'DELETE takes no body');
      }
      const deleted = await config.store.delete(number, providerOf(req));
      if (!deleted)
        throw new ApiProblem('number-not-found', 'this provider publishes no such number');
      await config.zone.refresh();
      config.logger.info({ provider: providerOf(req) }, 'number withdrawn');
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  });
  app.use('/v1/numbers', numbers);

  app.use((_req, _res, next) => next(new ApiProblem('not-found', 'no such resource')));
  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const problem = toProblem(err);
    if (problem.code === 'internal') config.logger.error({ err }, 'publish api request failed');
    const status = PROBLEM_STATUS[problem.code];
    if (problem.retryAfter !== undefined) res.set('Retry-After', String(problem.retryAfter));
    res
      .status(status)
      .type('application/problem+json')
      .send(
        JSON.stringify({
          type: `https://switchboard.test/problems/${problem.code}`,
          title: problemTitle(problem.code),
          status,
          detail: problem.message,
          code: problem.code,
          instance: req.path.startsWith('/v1/numbers/') ? '/v1/numbers/{number}' : req.path,
        }),
      );
  });
  return app;
}

/** RFC 9457 `title`: the same short summary for every occurrence of a code. */
function problemTitle(code: ProblemCode): string {
  const words = code.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function toProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (HttpSignatureError.is(err)) return new ApiProblem(SIGNATURE_CODES[err.code], err.message);
  if (err instanceof E164Error) return new ApiProblem('invalid-number', err.message);
  if (err instanceof RecordInputError || err instanceof MoveProofError) {
    return new ApiProblem(err.code, err.message);
  }
  const e = err as { type?: string; status?: number };
  if (e?.type === 'entity.too.large' || e?.status === 413) {
    return new ApiProblem('payload-too-large', 'request bodies are limited to 16 KiB');
  }
  if (e?.status === 400)
    return new ApiProblem('invalid-body', 'the request body could not be read');
  return new ApiProblem('internal', 'internal error');
}

const PROVIDER = Symbol('provider');
type AuthedRequest = Request & { [PROVIDER]?: string };

function providerOf(req: Request): string {
  const provider = (req as AuthedRequest)[PROVIDER];
  if (!provider) throw new ApiProblem('internal', 'request reached a handler unauthenticated');
  return provider;
}

async function authenticate(
  req: Request,
  config: PublishApiConfig,
  perProvider: RateLimiter,
): Promise<void> {
  const nowMs = config.now();
  let inactive = false;
  let providerId: string | undefined;
  const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
  const { keyId } = await verifyRequest({
    method: req.method,
    url: req.originalUrl,
    headers: req.headers,
    body,
    now: nowMs / 1000,
    replayCache: config.replayCache,
    resolveKey: async (id) => {
      const status = await config.providers.resolve(id, new Date(nowMs));
      if (status.status === 'unknown') return undefined;
      inactive = status.status === 'inactive';
      providerId = status.providerId ?? id;
      return status.key;
    },
  });
  if (inactive) {
    throw new ApiProblem('provider-not-active', 'this provider is not active in the trust list');
  }
  const provider = providerId ?? keyId;
  const d = perProvider.take(provider);
  if (!d.allowed) {
    throw new ApiProblem(
      'rate-limited',
      'too many requests from this provider',
      d.retryAfterSeconds,
    );
  }
  (req as AuthedRequest)[PROVIDER] = provider;
}

/** Validates a publish request with the schema of openapi/directory.yaml (publishNumber). */
function checkAgainstContract(
  contract: OpenApiValidator,
  req: Request,
  number: string,
  body: unknown,
): void {
  const result = contract.validateRequest('publishNumber', {
    params: { number },
    query: req.query as Record<string, unknown>,
    headers: req.headers,
    body,
  });
  if (result.ok) return;
  const first = result.errors[0];
  const pointer = first?.pointer ?? '/body';
  const code: ProblemCode = pointer.startsWith('/body/identityKey')
    ? 'invalid-identity-key'
    : pointer.startsWith('/body/contacts')
      ? 'invalid-contact'
      : 'invalid-body';
  // Schema messages name the rule broken, never the value.
  throw new ApiProblem(
    code,
    `${pointer.replace(/^\/body/, 'body')}: ${first?.message ?? 'invalid'}`,
  );
}

function numberParam(req: Request): E164Number {
  const raw = req.params['number'];
  return parseE164(typeof raw === 'string' ? raw : undefined);
}

function jsonBody(req: Request): Record<string, unknown> {
  if (!req.is('application/json')) {
    throw new ApiProblem('unsupported-media-type', 'send the body as application/json');
  }
  let parsed: unknown;
  try {
    parsed = parseJsonBody((req.body as Buffer).toString('utf8'));
  } catch (err) {
    // Too deep for the contract's validator (which recurses): refused before parsing.
    if (err instanceof JsonDepthError) throw new ApiProblem('invalid-body', err.message);
    throw new ApiProblem('invalid-body', 'the body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiProblem('invalid-body', 'the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

async function publish(
  number: E164Number,
  body: Record<string, unknown>,
  provider: string,
  config: PublishApiConfig,
): Promise<{ entry: NumberEntry; created: boolean }> {
  const extra = Object.keys(body).filter((k) => !['identityKey', 'contacts', 'move'].includes(k));
  if (extra.length > 0) {
    throw new ApiProblem(
      'invalid-body',
      'the body may only contain identityKey, contacts and move',
    );
  }
  const identityKey = checkIdentityKey(body['identityKey']);
  const contacts = checkContacts(body['contacts']);
  // What is stored must be servable: encoded here by the codec that will answer with it.
  const { apex, recordTtl } = config.zone.snapshot.settings;
  checkServable({ number, provider, identityKey, contacts }, apex, recordTtl);
  const move = body['move'] === undefined ? undefined : parseMoveProof(body['move']);
  const now = Math.floor(config.now() / 1000);
  // Two attempts: the holder is checked, then written only if it is still the same.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const existing = await config.store.get(number);
    let moveRecord;
    if (existing && existing.provider !== provider) {
      if (!move) {
        throw new ApiProblem(
          'number-held-by-other-provider',
          'another provider holds this number; include a move proof to take it over',
        );
      }
      const proofHash = await verifyMoveProof(
        move,
        {
          number,
          holder: existing.provider,
          currentIdentityKey: existing.identityKey,
          to: provider,
          newIdentityKey: identityKey,
          now,
        },
        config.providers,
      );
      if (await config.store.proofUsed(proofHash)) {
        throw new ApiProblem('move-proof-invalid', 'this move proof was already used');
      }
      moveRecord = {
        id: randomUUID(),
        numberHash: createHash('sha256').update(number).digest('hex'),
        fromProvider: existing.provider,
        toProvider: provider,
        kind: move.kind,
        proofHash,
      };
    } else if (move) {
      throw new ApiProblem(
        'move-not-needed',
        'this provider may publish the number without a move proof',
      );
    }
    const result = await config.store.put(
      { number, provider, identityKey, contacts },
      existing?.provider,
      now,
      moveRecord,
    );
    if (result) return result;
  }
  throw new ApiProblem(
    'number-held-by-other-provider',
    'the number changed hands during the request; retry',
  );
}

function entryBody(entry: NumberEntry, config: PublishApiConfig): Record<string, unknown> {
  const apex = config.zone.snapshot.settings.apex;
  return {
    number: entry.number,
    enumName: enumNameFor(entry.number, apex),
    provider: entry.provider,
    identityKey: entry.identityKey,
    contacts: entry.contacts,
    serial: entry.serial,
    updatedAt: entry.updatedAt,
    records: recordsForEntry(entry, apex, config.zone.snapshot.settings.recordTtl).map(
      formatRecord,
    ),
  };
}

type AnchorKey = { flags: number; protocol: number; algorithm: number; publicKey: Uint8Array };

/** A BIND/delv `trust-anchors` clause for the zone key (or several keys, one entry each). */
export function trustAnchorClause(apex: string, dnskey: AnchorKey | readonly AnchorKey[]): string {
  const keys: readonly AnchorKey[] = Array.isArray(dnskey) ? dnskey : [dnskey as AnchorKey];
  const entries = keys.map(
    (k) =>
      `"${apex}" static-key ${k.flags} ${k.protocol} ${k.algorithm} "${Buffer.from(k.publicKey).toString('base64')}";`,
  );
  return `trust-anchors { ${entries.join(' ')} };`;
}
