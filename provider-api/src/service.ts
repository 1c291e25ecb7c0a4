import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '@switchboard/db';
import { migrateToLatest, openDatabase } from '@switchboard/db';
import type {
  Logger,
  RunningHttpServer,
  RunningService,
  ServiceContext,
} from '@switchboard/service-kit';
import { createLogger, expressServer, listenHttp, listenMetrics } from '@switchboard/service-kit';
import { generateEd25519KeyPair, publicKeyRecord } from '@switchboard/charter';
import {
  readPrivateKeyFile,
  upsertDevelopmentEntries,
  writeFileAtomic,
  writePrivateKeyFile,
} from '@switchboard/charter/node';
import {
  PROVIDER_SQLITE_CACHE_KIB,
  defaultProviderConfig,
  parseProviderEnv,
} from './core/config.js';
import type { ProviderEnvConfig } from './core/config.js';
import type { CodeSender } from './core/code-sender.js';
import { ConsoleCodeSender, WebhookCodeSender } from './core/code-sender.js';
import { createLimits } from './core/deps.js';
import type { ProviderDeps } from './core/deps.js';
import { HttpDirectoryPublisher } from './core/directory-client.js';
import { createProviderApp } from './app.js';
import { attachMailboxSockets } from './mailboxes/mailbox-socket.js';
import { DatabaseReplayCache } from './core/replay-cache.js';
import { startMailboxRelay, sweepExpired } from './mailboxes/mailboxes.js';
import { sweepTakenPreKeys } from './prekeys/prekeys.js';
import { reconcileDirectory } from './accounts/accounts.js';
import { createApiKey, hasApiKeys } from './operator/operator-keys.js';
import { PROVIDER_MIGRATIONS } from './store/migrations.js';
import { TrustedProviders, openTrustListSource } from './core/trust-list.js';
import { PublicationChecker } from './core/publication-check.js';
import type { ProviderTables } from './store/schema.js';

async function loadOrCreateProviderKey(
  path: string,
  name: string,
): Promise<{ privateKey: KeyObject; publicKey: string }> {
  if (!existsSync(path)) {
    const pair = generateEd25519KeyPair();
    await writePrivateKeyFile(path, { ...pair, name });
  }
  const key = await readPrivateKeyFile(path);
  return { privateKey: key.privateKey, publicKey: key.publicKey };
}

/** A 32-byte server secret kept in `path` (0600), created on first start. */
async function loadOrCreateSecret(path: string): Promise<Buffer> {
  if (!existsSync(path)) {
    await writeFileAtomic(path, `${randomBytes(32).toString('base64')}\n`, 0o600);
  }
  const secret = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
  if (secret.length < 32) throw new Error(`${path} does not hold a 32-byte base64 secret`);
  return secret;
}

/** What start-up opens before the HTTP app exists: state directory, log, trust list, store, key. */
interface ProviderState {
  readonly stateDir: string;
  readonly logger: Logger;
  readonly trusted: TrustedProviders;
  readonly database: Database<ProviderTables>;
  readonly key: { privateKey: KeyObject; publicKey: string };
}

/** Stage 1: the state directory, the logger, the verified trust list, the database and the key. */
async function openState(
  ctx: ServiceContext,
  env: ProviderEnvConfig,
  now: () => number,
): Promise<ProviderState> {
  const stateDir = env.stateDir ?? join(ctx.dataDir, 'provider-api');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ service: 'provider-api', level: env.logLevel });
  // Other providers (their release keys and API addresses) come from the trust list, verified
  // against the pinned board on every read (re-read when the file changes); without a verified
  // list number moves are refused (fail closed).
  const trusted = new TrustedProviders(
    await openTrustListSource(
      {
        path: env.trustListPath,
        boardFingerprint: env.boardFingerprint,
        devDir: join(ctx.dataDir, 'charter'),
        stateFile: join(stateDir, 'trust-list-state.json'),
      },
      new Date(now()),
    ),
    logger,
  );
  const database = await openDatabase<ProviderTables>({
    url: env.databaseUrl ?? `sqlite:${join(stateDir, 'provider.db')}`,
    sqliteCacheKiB: PROVIDER_SQLITE_CACHE_KIB,
  });
  await migrateToLatest(
    database.db as Kysely<unknown>,
    database.dialect,
    'provider_api',
    PROVIDER_MIGRATIONS,
  );
  const key = await loadOrCreateProviderKey(join(stateDir, 'provider-key.json'), env.providerId);
  return { stateDir, logger, trusted, database, key };
}

/** The webhook named by the config, else the console (development). */
function codeSenderFor(env: ProviderEnvConfig): CodeSender {
  return env.codeWebhook
    ? new WebhookCodeSender(env.codeWebhook)
    : new ConsoleCodeSender((line) => process.stderr.write(line));
}

/** Asks the losing provider (found in the trust list) to complete a port-out. */
function portOutCompleter(
  trusted: TrustedProviders,
  now: () => number,
): ProviderDeps['completePortOutAt'] {
  return async (id, portOutId, signature) => {
    const entry = await trusted.find(id, new Date(now()));
    if (!entry) throw new Error('the losing provider is not in the trust list');
    const res = await fetch(new URL('/v1/port-outs/complete', entry.apiBaseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ portOutId, signature }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    if (res.status !== 204 && res.status !== 404)
      throw new Error(`completePortOut answered ${res.status}`);
  };
}

/** Stage 2: the dependencies of the app (code sender, directory publisher, replay cache, limits). */
async function buildDeps(
  env: ProviderEnvConfig,
  state: ProviderState,
  directoryUrl: string | undefined,
  now: () => number,
): Promise<{ deps: ProviderDeps; replayCache: DatabaseReplayCache }> {
  const { database, key, trusted } = state;
  const config = defaultProviderConfig({ providerId: env.providerId, currency: env.currency });
  const replayCache = new DatabaseReplayCache(database.db, now);
  const deps: ProviderDeps = {
    db: database.db,
    dialect: database.dialect,
    config,
    now,
    codeSender: codeSenderFor(env),
    directory: directoryUrl
      ? new HttpDirectoryPublisher({
          baseUrl: directoryUrl,
          keyId: env.providerId,
          privateKey: key.privateKey,
          now,
        })
      : undefined,
    providerKey: key.privateKey,
    providerKeys: (id: string): Promise<KeyObject[]> => trusted.publishingKeys(id, new Date(now())),
    completePortOutAt: portOutCompleter(trusted, now),
    replayCache,
    verificationSecret: await loadOrCreateSecret(join(state.stateDir, 'verification-secret')),
    logger: state.logger,
    limits: createLimits(config, now),
    publication: new PublicationChecker({ loadList: (at) => trusted.list(at), now }),
  };
  return { deps, replayCache };
}

/** Stage 3: the first operator API key, written to `keyFile` (0600) when none exists. */
async function ensureOperatorKey(deps: ProviderDeps, keyFile: string): Promise<void> {
  if (await hasApiKeys(deps)) return;
  const created = await createApiKey(deps, {
    name: 'initial operator',
    scopes: ['admin:keys', 'accounts:read', 'billing:write'],
  });
  await writeFileAtomic(keyFile, `${created.key}\n`, 0o600);
}

/** Embedded stack: accredits this provider in the development trust list. */
async function accreditInDevelopmentList(
  ctx: ServiceContext,
  env: ProviderEnvConfig,
  publicKey: string,
  apiUrl: string,
): Promise<void> {
  await upsertDevelopmentEntries(
    { dir: join(ctx.dataDir, 'charter'), now: new Date() },
    {
      providers: [
        {
          id: env.providerId,
          name: `Development provider ${env.providerId}`,
          apiBaseUrl: env.publicUrl ?? apiUrl,
          publishingKeys: [publicKeyRecord({ publicKey })],
          networks: ['sip', 'xmpp', 'matrix', 'mailbox'],
          accreditation: { notBefore: '2020-01-01T00:00:00Z', notAfter: '2100-01-01T00:00:00Z' },
          status: 'active',
        },
      ],
    },
  );
}

/** What stage 4 leaves running; `close` stops all of it (the database included). */
interface Listening {
  readonly api: RunningHttpServer;
  readonly metrics: RunningHttpServer;
  readonly close: () => Promise<void>;
}

/**
 * Stage 4: the API and its mailbox sockets, the metrics listener, the mailbox relay (replicas on
 * one PostgreSQL database push each other's deliveries) and the development accreditation; on a
 * failure everything opened so far is closed again.
 */
async function listen(
  ctx: ServiceContext,
  env: ProviderEnvConfig,
  state: ProviderState,
  deps: ProviderDeps,
  directoryUrl: string | undefined,
): Promise<Listening> {
  const { database, logger } = state;
  const { app, listener, hub, metrics } = createProviderApp(deps, {
    validateResponses: env.validateResponses,
    ...(env.trustProxy === undefined ? {} : { trustProxy: env.trustProxy }),
    operator: {
      directoryUrl,
      bridgeHealthUrl: env.bridgeHealthUrl,
      loadList: (at) => state.trusted.list(at),
    },
    lookupExample: {
      trustListPath: env.trustListPath ?? join(ctx.dataDir, 'charter', 'trust-list.json'),
      ...(env.boardFingerprint === undefined
        ? { boardFingerprintPath: join(ctx.dataDir, 'charter', 'board-fingerprint.txt') }
        : { boardFingerprint: env.boardFingerprint }),
    },
  });
  const server = expressServer(app, listener);
  const closeSockets = attachMailboxSockets(server, deps, hub, {
    trustProxy: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
  });
  const api = await listenHttp(server, env.host, env.port);
  let stopRelay = async (): Promise<void> => undefined;
  let metricsServer: RunningHttpServer | undefined;
  const close = async (): Promise<void> => {
    closeSockets();
    await stopRelay();
    await metricsServer?.close();
    await api.close();
    await database.close();
  };
  try {
    metricsServer = await listenMetrics(metrics, env.metrics.host, env.metrics.port, (err) =>
      logger.error({ err }, 'metrics could not be collected'),
    );
    if (database.notifications) {
      stopRelay = await startMailboxRelay(deps, hub, database.notifications);
    }
    if (env.trustListPath === undefined) {
      await accreditInDevelopmentList(ctx, env, state.key.publicKey, api.url);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { api, metrics: metricsServer, close };
}

/**
 * Stage 5: expired sessions and messages swept, the directory reconciled, replay nonces and
 * taken one-time prekeys deleted, every minute.
 */
function startSweeper(
  deps: ProviderDeps,
  replayCache: DatabaseReplayCache,
  logger: Logger,
): NodeJS.Timeout {
  const sweeper = setInterval(() => {
    sweepExpired(deps)
      .then(() => reconcileDirectory(deps))
      .then(
        () => replayCache.sweep(),
        (err: unknown) => logger.warn({ err }, 'sweep failed'),
      )
      .then(() => sweepTakenPreKeys(deps.db))
      .catch((err: unknown) => logger.warn({ err }, 'sweep failed'));
  }, 60_000);
  sweeper.unref();
  return sweeper;
}

/**
 * Starts the provider API (embedded default: 127.0.0.1:8080, SQLite under the data dir, console
 * code sender, a provider key created on first run and registered in the development trust list).
 *
 * The environment is parsed once by {@link parseProviderEnv} (every variable, its default and its
 * check are in `config.ts` and the README); a wrong value stops start-up with an error naming the
 * variable. `SWITCHBOARD_TRUST_LIST` without `SWITCHBOARD_BOARD_FINGERPRINT` stops start-up too.
 * A list that is missing or does not verify does not stop the service: it logs why and refuses
 * number moves (503) until a verified list is in place.
 */
export async function startService(ctx: ServiceContext): Promise<RunningService | null> {
  const env = parseProviderEnv(ctx.env);
  const now = (): number => Date.now();
  const state = await openState(ctx, env, now);
  // The embedded directory, when it runs, says where its publish API listens.
  const embedded = ctx.started.find((s) => s.name === 'directory') as
    { publishUrl?: string } | undefined;
  const directoryUrl = env.directoryUrl ?? embedded?.publishUrl;
  const { deps, replayCache } = await buildDeps(env, state, directoryUrl, now);
  const keyFile = join(state.stateDir, 'operator-api-key');
  await ensureOperatorKey(deps, keyFile);
  const running = await listen(ctx, env, state, deps, directoryUrl);
  // Says at start-up (in the log) when number moves are refused for want of a verified list.
  await state.trusted.find(env.providerId, new Date(now())).catch(() => undefined);
  const sweeper = startSweeper(deps, replayCache, state.logger);
  state.logger.info(
    { url: running.api.url, dialect: state.database.dialect, directory: directoryUrl ?? 'none' },
    'provider API listening',
  );
  let stopped: Promise<void> | undefined;
  return {
    name: 'provider-api',
    listening: [
      `HTTP ${running.api.url} (onboarding page /, API docs ${running.api.url}/docs/)`,
      `metrics ${running.metrics.url}/metrics`,
      `operator page ${running.api.url}/operator (key in ${keyFile})`,
    ],
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(sweeper);
        await running.close();
      })()),
  };
}
