import type { IncomingMessage, RequestListener } from 'node:http';
import type { Request } from 'express';
import express from 'express';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type {
  ApiRouter,
  CoreErrorCode,
  OpenApiValidator,
  ProviderErrorCode,
  ProviderSchema,
  ResponseViolation,
} from '@switchboard/openapi';
import {
  ApiError,
  PROVIDER_ERROR_STATUS,
  createApiRouter,
  createOpenApiValidator,
  docsRouter,
  loadDocument,
} from '@switchboard/openapi';
import type { PrefixLengths } from '@switchboard/service-kit';
import type { ReplayCache } from '@switchboard/http-signature';
import {
  clientPrefix,
  pageSecurityHeaders,
  parseJsonBody,
  securityHeaders,
} from '@switchboard/service-kit';
import type { Kysely } from 'kysely';
import type { ProviderTables } from './store/schema.js';
import type { ProviderDeps } from './core/deps.js';
import type { ApiKeyScope } from './core/auth.js';
import { deviceKeyOf, requireOperator, verifySignedRequest } from './core/auth.js';
import { fail } from './core/errors.js';
import * as verification from './accounts/verification.js';
import { createHandover, handoverState, redeemHandover } from './accounts/handover.js';
import * as accounts from './accounts/accounts.js';
import * as prekeys from './prekeys/prekeys.js';
import * as ledger from './billing/ledger.js';
import * as porting from './accounts/porting.js';
import * as registrationLock from './accounts/registration-lock.js';
import * as operatorKeys from './operator/operator-keys.js';
import * as mailboxes from './mailboxes/mailboxes.js';
import { issueSenderCertificate, verifySenderCertificate } from './prekeys/sender-certificates.js';
import { ONBOARDING_PAGE, ONBOARDING_SCRIPT, ONBOARDING_STYLE } from './pages/onboarding-page.js';
import { bindOnboardingOperations } from './pages/onboarding-routes.js';
import type { OperatorSources } from './operator/operator-overview.js';
import { RecentErrors } from './operator/operator-overview.js';
import { bindOperatorOperations, operatorPages } from './operator/operator-routes.js';
import { OPERATOR_STYLE } from './operator/operator-page.js';
import type { LookupExampleOptions } from './pages/lookup-example.js';
import { lookupExampleRouter } from './pages/lookup-example.js';
import { bundleListener } from './prekeys/bundle-listener.js';

/** Options of {@link createProviderApp}. */
export interface ProviderAppOptions {
  /** Check every response against the document (tests, development). */
  readonly validateResponses?: boolean;
  /** express `trust proxy` (behind a load balancer); default false. */
  readonly trustProxy?: boolean | string | number | readonly string[];
  /** Validator to reuse (compiling the document takes a moment). */
  readonly validator?: OpenApiValidator;
  /** Where the operator overview reads the directory, its nameservers and the bridge. */
  readonly operator?: OperatorSources;
  /** Serve the SDK's browser lookup example at /examples/lookup/ (lookup-example.ts). */
  readonly lookupExample?: LookupExampleOptions;
}

/** The express app and what the service wires around it. */
export interface ProviderApp {
  readonly app: express.Express;
  /**
   * What to serve (`expressServer(app, listener)`): bundle fetches on the bare listener
   * (`prekeys/bundle-listener.ts`), everything else through `app`.
   */
  readonly listener: RequestListener;
  readonly hub: mailboxes.MailboxHub;
  readonly metrics: Registry;
}

let sharedValidator: OpenApiValidator | undefined;

/** The provider API document's validator, compiled once per process. */
export function providerValidator(): OpenApiValidator {
  return (sharedValidator ??= createOpenApiValidator(loadDocument('provider')));
}

/**
 * Builds the provider API: every route of `openapi/provider.yaml`, validated against it, with
 * problem+json errors, `/docs` and the onboarding page at `/` (pages with a strict
 * Content-Security-Policy, every response `nosniff`). The metrics registry is returned for the
 * service to serve on its own listener, not on this app.
 */
export function createProviderApp(
  deps: ProviderDeps,
  options: ProviderAppOptions = {},
): ProviderApp {
  const validator = options.validator ?? providerValidator();
  const hub = new mailboxes.MailboxHub();
  const { metrics, requests } = providerMetrics();
  const recentErrors = new RecentErrors(deps.now);
  const onError = (e: { err?: unknown; violation?: ResponseViolation }): void => {
    if (e.violation)
      deps.logger.error({ violation: e.violation }, 'response does not match the document');
    if (e.err) deps.logger.error({ err: e.err }, 'unexpected error');
  };
  const api = createApiRouter({
    validator,
    statusTable: PROVIDER_ERROR_STATUS,
    responseValidation: options.validateResponses ? 'enforce' : 'off',
    bodyLimitBytes: deps.config.bodyLimitBytes,
    parseJson: parseJsonBody,
    onError,
    onProblem: recentErrors.problem,
  });
  const who = callers(deps, options);
  const failed = new WeakMap<IncomingMessage, unknown>();
  const bundles = bundleFetcher(deps, who, failed);
  const bind: Bind = api.bind.bind(api);
  bindHealthAndVerification(bind, deps, who);
  bindHandover(bind, deps);
  bindAccounts(bind, deps, who);
  bindPrekeys(bind, deps, who, bundles);
  bindLedgerAndPorting(bind, deps, who);
  bindMailboxes(bind, deps, who, hub);
  bindOperatorApi(bind, deps, who);
  bindOnboardingOperations(bind, deps, who.clientAddress);
  bindOperatorOperations(bind, deps, who.operator, recentErrors, options.operator ?? {});
  const missing = api.unbound();
  if (missing.length > 0) throw new Error(`operations without a handler: ${missing.join(', ')}`);
  api.finish();
  const app = assembleApp(api.router, validator, options, requests);
  const fetchPath = validator.operation('getPrekeyBundle').expressPath;
  const served = requests.labels({ operation: `GET ${fetchPath}`, status: '200' });
  const listener = bundleListener({
    requestPrototype: app.request,
    fetch: (req, address) => {
      // Set as express sets it (the signature covers the target as received).
      (req as Request).originalUrl = req.url ?? '';
      return bundles
        .fetch(req as Request, address, undefined, EMPTY_BODY)
        .then((bundle) => checkedBundle(bundle, validator, options, onError));
    },
    served: () => served.inc(),
    app,
    failed,
  });
  return { app, listener, hub, metrics };
}

const EMPTY_BODY = Buffer.alloc(0);

/**
 * A bundle's JSON text; with `validateResponses`, checked against the document first as the
 * express route's answers are (a violation is reported, and answered 500 by the app).
 */
function checkedBundle(
  bundle: ProviderSchema<'PrekeyBundle'>,
  validator: OpenApiValidator,
  options: ProviderAppOptions,
  onError: (e: { violation: ResponseViolation }) => void,
): string {
  if (options.validateResponses) {
    const checked = validator.validateResponse('getPrekeyBundle', 200, 'application/json', bundle);
    if (!checked.ok) {
      onError({
        violation: { operationId: 'getPrekeyBundle', status: 200, errors: checked.errors },
      });
      throw new ApiError<CoreErrorCode>(
        'internal',
        'the response did not match the API description',
      );
    }
  }
  return JSON.stringify(bundle);
}

/** A bundle fetch, as the route and the bare listener's fast path both run it. */
interface BundleFetcher {
  fetch(
    req: Request,
    address: string,
    certificate: string | undefined,
    rawBody: Buffer,
  ): Promise<ProviderSchema<'PrekeyBundle'>>;
  /** Throws the error a fast-path fetch of `req` failed with, if it did. */
  rethrowFailed(req: Request): void;
}

function bundleFetcher(
  deps: ProviderDeps,
  who: Callers,
  failed: WeakMap<IncomingMessage, unknown>,
): BundleFetcher {
  return {
    // A device signature is checked in the fetch's unit of work (its key read in the batch's
    // transaction); a sender certificate before it.
    fetch: (req, address, certificate, rawBody) =>
      prekeys.fetchBundle(
        deps,
        address,
        who.clientAddress(req),
        (nonce, via) => who.asker(req, rawBody, certificate, nonce, via),
        { checkInUnit: certificate === undefined },
      ),
    rethrowFailed: (req) => {
      if (!failed.has(req)) return;
      const err = failed.get(req);
      failed.delete(req);
      throw err as Error;
    },
  };
}

type Bind = ApiRouter<ProviderErrorCode>['bind'];

/** The registry the service serves on its own listener, with the per-operation counter. */
function providerMetrics(): { metrics: Registry; requests: Counter<'operation' | 'status'> } {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const requests = new Counter({
    name: 'provider_api_requests_total',
    help: 'Provider API requests by operation and status',
    labelNames: ['operation', 'status'] as const,
    registers: [metrics],
  });
  return { metrics, requests };
}

/** Who a request comes from: its client prefix, its signing device, asker, operator or mailbox key. */
interface Callers {
  readonly clientAddress: (req: Request) => string;
  readonly senderAddress: (req: Request) => string;
  /** The account a request is signed for (keyid = account id, key = its device key). */
  readonly device: (req: Request, rawBody: Buffer) => Promise<string>;
  readonly asker: (
    req: Request,
    rawBody: Buffer,
    certificate: string | undefined,
    nonce: ReplayCache,
    /** Where the device key is read (a transaction on the database), when not on the database. */
    via?: Kysely<ProviderTables>,
  ) => Promise<prekeys.Asker>;
  readonly operator: (req: Request, scope: ApiKeyScope) => Promise<string>;
  readonly mailboxOwner: (req: Request, rawBody: Buffer, mailbox: string) => Promise<void>;
}

function callers(deps: ProviderDeps, options: ProviderAppOptions): Callers {
  const signature = {
    replayCache: deps.replayCache,
    now: deps.now,
    maxSkewSeconds: deps.config.signatureMaxSkewSeconds,
  };
  // Limits are keyed by network prefix (IPv4 /32, IPv6 /64; mailbox senders by their own
  // lengths): one IPv6 host holds a whole /64. Prefixes of recent addresses are kept (a client
  // sends many requests; bounded maps). Without a trusted proxy, req.ip is the socket's address
  // anyway (after parsing any X-Forwarded-For header on every request only to ignore it).
  const trustsProxy = (options.trustProxy ?? false) !== false;
  const prefixOf = (lengths: PrefixLengths): ((req: Request) => string) => {
    const prefixes = new Map<string, string>();
    return (req) => {
      const address = (trustsProxy ? req.ip : req.socket.remoteAddress) ?? 'unknown';
      let prefix = prefixes.get(address);
      if (prefix === undefined) {
        if (prefixes.size >= 10_000) prefixes.clear();
        prefix = clientPrefix(address, lengths);
        prefixes.set(address, prefix);
      }
      return prefix;
    };
  };
  const clientAddress = prefixOf({});
  const senderAddress = prefixOf(deps.config.mailboxes.senderPrefix);

  /** The account a request is signed for (keyid = account id, key = its device key). */
  const device = async (req: Request, rawBody: Buffer): Promise<string> => {
    const accountId = await verifySignedRequest(req, rawBody, signature, (keyId) =>
      deviceKeyOf(deps.db, keyId),
    );
    // Keeps a registration lock alive (it lapses after a week without such requests).
    await registrationLock.noteActivity(deps, accountId);
    return accountId;
  };
  /**
   * Who asks for a bundle: an account here (device signature), or an account another provider
   * of the trust list certified (sender certificate + signature by the device key it names).
   */
  const asker = async (
    req: Request,
    rawBody: Buffer,
    certificate: string | undefined,
    nonce: ReplayCache,
    via?: Kysely<ProviderTables>,
  ): Promise<prekeys.Asker> => {
    const self = deps.config.providerId;
    const checks = { ...signature, replayCache: nonce };
    if (certificate === undefined) {
      const accountId = await verifySignedRequest(req, rawBody, checks, (keyId) =>
        deviceKeyOf(deps.db, keyId, via),
      );
      return { id: `${self}/${accountId}`, localAccountId: accountId, deviceSigned: true };
    }
    const cert = await verifySenderCertificate(deps, certificate);
    await verifySignedRequest(req, rawBody, checks, (keyId) =>
      keyId === cert.accountId ? cert.deviceKey : undefined,
    );
    const id = `${cert.issuer}/${cert.accountId}`;
    return cert.issuer === self ? { id, localAccountId: cert.accountId } : { id };
  };
  const operator = (req: Request, scope: ApiKeyScope): Promise<string> =>
    requireOperator(req, deps.db, scope);
  const mailboxOwner = async (req: Request, rawBody: Buffer, mailbox: string): Promise<void> => {
    // Any well-formed key may sign; only the one whose hash is the address may read this mailbox.
    const keyId = await verifySignedRequest(req, rawBody, signature, mailboxes.mailboxKeyOf);
    if (!mailboxes.ownsMailbox(keyId, mailbox)) {
      throw fail('mailbox.key-mismatch', 'the signing key is not the key of this mailbox');
    }
  };

  return { clientAddress, senderAddress, device, asker, operator, mailboxOwner };
}

/** The health check and phone-number verification sessions. */
function bindHealthAndVerification(bind: Bind, deps: ProviderDeps, who: Callers): void {
  const { clientAddress } = who;
  bind('getHealth', async (_req, res) => {
    try {
      await deps.db.selectFrom('accounts').select('id').limit(1).execute();
    } catch (err) {
      deps.logger.error({ err }, 'health check: database unavailable');
      throw fail('service.unavailable', 'the database does not answer');
    }
    res.json({ status: 'ok' });
  });

  bind('createVerificationSession', async (req, res, input) => {
    const body = input.body as ProviderSchema<'CreateVerificationSession'>;
    res.status(201).json(await verification.createSession(deps, body, clientAddress(req)));
  });
  bind('getVerificationSession', async (_req, res, input) => {
    res.json(await verification.getSession(deps, input.params['sessionId'] as string));
  });
  bind('requestVerificationCode', async (req, res, input) => {
    const body = input.body as ProviderSchema<'RequestVerificationCode'>;
    const sessionId = input.params['sessionId'] as string;
    res.json(await verification.requestCode(deps, sessionId, body, clientAddress(req)));
  });
  bind('submitVerificationCode', async (req, res, input) => {
    const body = input.body as ProviderSchema<'SubmitVerificationCode'>;
    const sessionId = input.params['sessionId'] as string;
    res.json(await verification.submitCode(deps, sessionId, body, clientAddress(req)));
  });
}

/** Hand-over of a verified session to another device (the onboarding page). */
function bindHandover(bind: Bind, deps: ProviderDeps): void {
  bind('createRegistrationHandover', async (req, res, input) => {
    const origin = `${req.protocol}://${req.get('host') ?? ''}`;
    const body = input.body as ProviderSchema<'CreateRegistrationHandover'>;
    const sessionId = input.params['sessionId'] as string;
    res.status(201).json(await createHandover(deps, sessionId, body, origin));
  });
  bind('getRegistrationHandover', async (_req, res, input) => {
    res.json(await handoverState(deps, input.params['sessionId'] as string));
  });
  bind('redeemRegistrationHandover', async (_req, res, input) => {
    const body = input.body as ProviderSchema<'RedeemRegistrationHandover'>;
    res.json(await redeemHandover(deps, body.token));
  });
}

/** Accounts: registration, the registration lock, sender certificates, discoverability. */
function bindAccounts(bind: Bind, deps: ProviderDeps, who: Callers): void {
  const { device } = who;
  bind('registerAccount', async (_req, res, input) => {
    const body = input.body as ProviderSchema<'RegisterAccount'>;
    res.status(201).json(await accounts.registerAccount(deps, body));
  });
  bind('getAccount', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    res.json(accounts.accountView(await accounts.loadAccount(deps.db, accountId)));
  });
  bind('setRegistrationLock', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    const body = input.body as ProviderSchema<'RegistrationLock'>;
    await registrationLock.setRegistrationLock(deps, accountId, body.pin);
    res.status(204).end();
  });
  bind('removeRegistrationLock', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    await registrationLock.removeRegistrationLock(deps, accountId);
    res.status(204).end();
  });
  bind('deleteAccount', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    await accounts.deleteAccount(deps, accountId);
    res.status(204).end();
  });
  bind('issueSenderCertificate', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    res.status(201).json(await issueSenderCertificate(deps, accountId));
  });
  bind('setDiscoverability', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    const body = input.body as ProviderSchema<'Discoverability'>;
    res.json(await accounts.setDiscoverability(deps, accountId, body));
  });
}

/** Prekeys: upload, count, digest check and bundles. */
function bindPrekeys(bind: Bind, deps: ProviderDeps, who: Callers, bundles: BundleFetcher): void {
  const { device } = who;
  bind('uploadPrekeys', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    const body = input.body as ProviderSchema<'UploadPrekeys'>;
    res.json(await prekeys.uploadPrekeys(deps, accountId, body));
  });
  bind('countPrekeys', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    res.json(await prekeys.countPrekeys(deps, accountId));
  });
  bind('checkKeyDigest', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    const body = input.body as ProviderSchema<'KeyDigestCheck'>;
    res.json(await prekeys.checkDigest(deps, accountId, body.digest));
  });
  bind('getPrekeyBundle', async (req, res, input) => {
    // A fetch the bare listener's fast path ran and that failed: its problem, answered here.
    bundles.rethrowFailed(req);
    const certificate = input.headers['sender-certificate'] as string | undefined;
    const address = input.params['address'] as string;
    const bundle = await bundles.fetch(req, address, certificate, input.rawBody);
    // A bundle hands out one-time prekeys: no cache may keep or replay it. Sent without
    // express's ETag, which would hash every (never repeated) body for nothing, and with the
    // headers set as they are (res.set and res.type look the type up and rewrite the charset).
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(bundle));
  });
}

/** Credit, balance and statement; port-out releases. */
function bindLedgerAndPorting(bind: Bind, deps: ProviderDeps, who: Callers): void {
  const { device, operator } = who;
  bind('purchaseCredit', async (req, res, input) => {
    // Credit is recorded by the payment side (e.g. a processor webhook), never by the user.
    await operator(req, 'billing:write');
    const body = input.body as ProviderSchema<'CreditPurchaseRequest'>;
    const key = input.headers['idempotency-key'] as string;
    res.status(201).json(await ledger.purchaseCredit(deps, key, body));
  });
  bind('getBalance', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    res.json(await ledger.getBalance(deps, accountId));
  });
  bind('getStatement', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    const limit = input.query['limit'] as number;
    const before = input.query['before'] as number | undefined;
    res.json(await ledger.getStatement(deps, accountId, limit, before));
  });

  bind('issuePortOut', async (req, res, input) => {
    const accountId = await device(req, input.rawBody);
    const body = input.body as ProviderSchema<'PortOutRequest'>;
    res.status(201).json(await porting.issuePortOut(deps, accountId, body));
  });
  bind('completePortOut', async (_req, res, input) => {
    await porting.completePortOut(deps, input.body as ProviderSchema<'CompletePortOut'>);
    res.status(204).end();
  });
}

/** Mailboxes: delivery by anyone, reading by the mailbox key's holder. */
function bindMailboxes(
  bind: Bind,
  deps: ProviderDeps,
  who: Callers,
  hub: mailboxes.MailboxHub,
): void {
  const { mailboxOwner, senderAddress } = who;
  bind('deliverMailboxMessage', async (req, res, input) => {
    const body = input.body as ProviderSchema<'MailboxDelivery'>;
    const mailbox = input.params['mailbox'] as string;
    res
      .status(202)
      .json(await mailboxes.deliver(deps, hub, mailbox, body.ciphertext, senderAddress(req)));
  });
  bind('receiveMailboxMessages', async (req, res, input) => {
    const mailbox = input.params['mailbox'] as string;
    await mailboxOwner(req, input.rawBody, mailbox);
    const limit = input.query['limit'] as number;
    res.json(await mailboxes.receive(deps, mailbox, limit, senderAddress(req)));
  });
  bind('acknowledgeMailboxMessages', async (req, res, input) => {
    const mailbox = input.params['mailbox'] as string;
    await mailboxOwner(req, input.rawBody, mailbox);
    const body = input.body as ProviderSchema<'MailboxAcknowledgement'>;
    res.json(await mailboxes.acknowledgeMany(deps, mailbox, body.messageIds));
  });
  bind('deleteMailboxMessage', async (req, res, input) => {
    const mailbox = input.params['mailbox'] as string;
    await mailboxOwner(req, input.rawBody, mailbox);
    await mailboxes.acknowledge(deps, mailbox, input.params['messageId'] as string);
    res.status(204).end();
  });
}

/** The operator's API keys and charges. */
function bindOperatorApi(bind: Bind, deps: ProviderDeps, who: Callers): void {
  const { operator } = who;
  bind('listApiKeys', async (req, res) => {
    await operator(req, 'admin:keys');
    res.json(await operatorKeys.listApiKeys(deps));
  });
  bind('createApiKey', async (req, res, input) => {
    await operator(req, 'admin:keys');
    res
      .status(201)
      .json(await operatorKeys.createApiKey(deps, input.body as ProviderSchema<'CreateApiKey'>));
  });
  bind('revokeApiKey', async (req, res, input) => {
    await operator(req, 'admin:keys');
    await operatorKeys.revokeApiKey(deps, input.params['apiKeyId'] as string);
    res.status(204).end();
  });
  bind('chargeAccount', async (req, res, input) => {
    await operator(req, 'billing:write');
    const body = input.body as ProviderSchema<'ChargeRequest'>;
    const key = input.headers['idempotency-key'] as string;
    res.status(201).json(await ledger.chargeAccount(deps, { ...body, idempotencyKey: key }));
  });
}

/** The express app: security headers, the request counter, the onboarding page, docs, the API. */
function assembleApp(
  router: express.Router,
  validator: OpenApiValidator,
  options: ProviderAppOptions,
  requests: Counter<'operation' | 'status'>,
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(securityHeaders());
  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'other';
      requests.inc({ operation: `${req.method} ${route}`, status: String(res.statusCode) });
    });
    next();
  });
  const page = pageSecurityHeaders({ inlineStyles: [ONBOARDING_STYLE] });
  app.get('/', page, (_req, res) => {
    res.type('html').send(ONBOARDING_PAGE);
  });
  app.get('/onboarding.js', (_req, res) => {
    res.type('text/javascript').send(ONBOARDING_SCRIPT);
  });
  if (options.lookupExample)
    app.use('/examples/lookup', lookupExampleRouter(options.lookupExample));
  app.use('/docs', page, docsRouter(validator.document, { title: 'Switchboard provider API' }));
  app.use(operatorPages(pageSecurityHeaders({ inlineStyles: [OPERATOR_STYLE] })));
  app.use(router);
  return app;
}
