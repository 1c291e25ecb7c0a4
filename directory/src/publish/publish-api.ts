import { createHash, randomUUID } from 'node:crypto';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { formatRecord } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { E164Error, enumNameFor, parseE164 } from '@switchboard/e164';
import type { ReplayCache } from '@switchboard/http-signature';
import { HttpSignatureError, verifyRequest } from '@switchboard/http-signature';
import type {
  ApiRouter,
  DirectoryErrorCode,
  FieldError,
  OperationHandler,
} from '@switchboard/openapi';
import {
  ApiError,
  DIRECTORY_CORE_CODES,
  DIRECTORY_ERROR_STATUS,
  createApiRouter,
  createOpenApiValidator,
  loadDocument,
} from '@switchboard/openapi';
import type { Logger } from '@switchboard/service-kit';
import {
  clientPrefix,
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

/** The one error of the publish API: a code of openapi/directory.yaml, its status from one table. */
type PublishError = ApiError<DirectoryErrorCode>;
type PublishRouter = ApiRouter<DirectoryErrorCode>;

const SIGNATURE_CODES: Readonly<Record<HttpSignatureError['code'], DirectoryErrorCode>> = {
  missing: 'signature-missing',
  malformed: 'signature-malformed',
  unsupported: 'signature-malformed',
  'unknown-key': 'unknown-key',
  'bad-signature': 'bad-signature',
  stale: 'stale-request',
  replayed: 'replayed-request',
  'digest-mismatch': 'digest-mismatch',
};

/** The largest request body, 16 KiB. */
const BODY_LIMIT_BYTES = 16 * 1024;

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
  /** `enforce` (tests): responses that do not match the contract become 500s. Default `off`. */
  readonly responseValidation?: 'off' | 'enforce';
}

/**
 * The directory's publish API (openapi/directory.yaml): providers PUT/DELETE numbers with
 * RFC 9421-signed requests; the zone's trust anchor is public. Routes, request validation and
 * problems come from the contract through `@switchboard/openapi`'s router, as the provider's do;
 * records.ts and move-proof.ts add what a schema cannot say (key type byte, URI per service).
 */
export function createPublishApi(config: PublishApiConfig): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders());
  const api = createApiRouter<DirectoryErrorCode>({
    validator: createOpenApiValidator(loadDocument('directory')),
    statusTable: DIRECTORY_ERROR_STATUS,
    coreCodes: DIRECTORY_CORE_CODES,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    // Too deep for the contract's validator (which recurses): refused before parsing.
    parseJson: parseJsonBody,
    invalidRequest: invalidRequestProblem,
    responseValidation: config.responseValidation ?? 'off',
    onError: ({ err, violation }) =>
      config.logger.error({ err, violation }, 'publish api request failed'),
  });
  api.router.use(rateLimits(config));
  api.router.use('/v1/numbers', authenticator(config));
  bindPublicOperations(api, config);
  bindNumberOperations(api, config);
  api.finish();
  app.use(api.router);
  return app;
}

/** Per client prefix: every request, and a tighter budget for unauthenticated ones. */
function rateLimits(config: PublishApiConfig): RequestHandler {
  const limiter = (perMinute: number): RateLimiter =>
    new RateLimiter({ capacity: perMinute, perSeconds: 60 }, { now: config.now });
  const addressLimit = config.perAddressPerMinute ?? 1200;
  const publicLimit = config.publicPerClientPerMinute ?? 120;
  const perAddress = limiter(addressLimit);
  const perClientPublic = limiter(publicLimit);
  return (req, res, next) => {
    // By prefix, not address: one IPv6 host holds a whole /64.
    const client = clientPrefix(req.socket.remoteAddress ?? '');
    const d = perAddress.take(client);
    // draft-ietf-httpapi-ratelimit-headers: the policy and what is left of it.
    res.set('RateLimit-Policy', `"per-address";q=${addressLimit};w=60`);
    res.set('RateLimit', `"per-address";r=${d.allowed ? d.remaining : 0}`);
    if (!d.allowed) {
      next(rateLimited('too many requests from this address', d.retryAfterSeconds));
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
      next(rateLimited('too many unauthenticated requests from this address', p.retryAfterSeconds));
      return;
    }
    next();
  };
}

function rateLimited(message: string, retryAfterSeconds: number): PublishError {
  return new ApiError('rate-limited', message, { retryAfterSeconds });
}

/** `/healthz` and `/v1/zone`: no signature. */
function bindPublicOperations(api: PublishRouter, config: PublishApiConfig): void {
  api.bind('health', async (_req, res) => {
    let serial: number;
    try {
      serial = await config.store.serial();
    } catch {
      throw new ApiError<DirectoryErrorCode>('not-ready', 'the database is not reachable');
    }
    res.json({ status: 'ok', serial, warm: config.warm?.() ?? true });
  });
  api.bind('getZone', (_req, res) => {
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
}

/** GET, PUT and DELETE `/v1/numbers/{number}`, each after {@link authenticator}. */
function bindNumberOperations(api: PublishRouter, config: PublishApiConfig): void {
  api.bind(
    'getNumber',
    publishErrors(async (req, res) => {
      const entry = await config.store.get(numberParam(req));
      if (!entry || entry.provider !== providerOf(req)) {
        throw new ApiError('number-not-found', 'this provider publishes no such number');
      }
      res.json(entryBody(entry, config));
    }),
  );
  api.bind(
    'publishNumber',
    publishErrors(async (req, res, input) => {
      const number = numberParam(req);
      const body = input.body as Record<string, unknown>;
      const result = await publish(number, body, providerOf(req), config);
      await config.zone.refresh();
      config.logger.info(
        { provider: providerOf(req), serial: result.entry.serial, created: result.created },
        'number published',
      );
      res.status(result.created ? 201 : 200).json(entryBody(result.entry, config));
    }),
  );
  api.bind(
    'withdrawNumber',
    publishErrors(async (req, res) => {
      const deleted = await config.store.delete(numberParam(req), providerOf(req));
      if (!deleted)
        throw new ApiError('number-not-found', 'this provider publishes no such number');
      await config.zone.refresh();
      config.logger.info({ provider: providerOf(req) }, 'number withdrawn');
      res.status(204).end();
    }),
  );
}

/** A handler whose domain errors (signatures, numbers, records, move proofs) become problems. */
function publishErrors(handler: OperationHandler): OperationHandler {
  return async (req, res, input) => {
    try {
      await handler(req, res, input);
    } catch (err) {
      throw asPublishError(err);
    }
  };
}

/** The contract's problem for a domain error; anything else is passed on (a 500, logged). */
function asPublishError(err: unknown): unknown {
  if (HttpSignatureError.is(err)) return new ApiError(SIGNATURE_CODES[err.code], err.message);
  if (err instanceof E164Error) return new ApiError('invalid-number', err.message);
  if (err instanceof RecordInputError || err instanceof MoveProofError)
    return new ApiError(err.code, err.message);
  return err;
}

/**
 * A request that fails the contract's schema: `invalid-number` for the path, else
 * `invalid-identity-key` / `invalid-contact` / `invalid-body` by the first failing field.
 * Schema messages name the rule broken, never the value.
 */
function invalidRequestProblem(errors: readonly FieldError[]): PublishError {
  const first = errors.find((e) => e.pointer.startsWith('/path/number')) ?? errors[0];
  const pointer = first?.pointer ?? '/body';
  const code: DirectoryErrorCode = pointer.startsWith('/path/number')
    ? 'invalid-number'
    : pointer.startsWith('/body/identityKey')
      ? 'invalid-identity-key'
      : pointer.startsWith('/body/contacts')
        ? 'invalid-contact'
        : 'invalid-body';
  return new ApiError(
    code,
    `${pointer.replace(/^\/body/, 'body')}: ${first?.message ?? 'invalid'}`,
  );
}

const PROVIDER = Symbol('provider');
type AuthedRequest = Request & { [PROVIDER]?: string };

function providerOf(req: Request): string {
  const provider = (req as AuthedRequest)[PROVIDER];
  if (!provider) throw new Error('request reached a handler unauthenticated');
  return provider;
}

/** Verifies the RFC 9421 signature of every `/v1/numbers` request before validation. */
function authenticator(config: PublishApiConfig): RequestHandler {
  const perProvider = new RateLimiter(
    { capacity: config.perProviderPerMinute ?? 600, perSeconds: 60 },
    { now: config.now },
  );
  return (req: Request, _res: Response, next: NextFunction) => {
    authenticate(req, config, perProvider).then(
      () => next(),
      (err: unknown) => next(asPublishError(err)),
    );
  };
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
    throw new ApiError('provider-not-active', 'this provider is not active in the trust list');
  }
  const provider = providerId ?? keyId;
  const d = perProvider.take(provider);
  if (!d.allowed) throw rateLimited('too many requests from this provider', d.retryAfterSeconds);
  (req as AuthedRequest)[PROVIDER] = provider;
}

function numberParam(req: Request): E164Number {
  const raw = req.params['number'];
  return parseE164(typeof raw === 'string' ? raw : undefined);
}

async function publish(
  number: E164Number,
  body: Record<string, unknown>,
  provider: string,
  config: PublishApiConfig,
): Promise<{ entry: NumberEntry; created: boolean }> {
  const extra = Object.keys(body).filter((k) => !['identityKey', 'contacts', 'move'].includes(k));
  if (extra.length > 0) {
    throw new ApiError('invalid-body', 'the body may only contain identityKey, contacts and move');
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
        throw new ApiError(
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
        throw new ApiError('move-proof-invalid', 'this move proof was already used');
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
      throw new ApiError(
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
  throw new ApiError(
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
