import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { migrateToLatest, openDatabase } from '@switchboard/db';
import type { RunningHttpServer, RunningService, ServiceContext } from '@switchboard/service-kit';
import {
  createLogger,
  expressServer,
  listenHttp,
  listenMetrics,
  metricsAddress,
} from '@switchboard/service-kit';
import type { ProviderEntry } from '@switchboard/charter';
import { generateEd25519KeyPair, publicKeyRecord } from '@switchboard/charter';
import {
  readPrivateKeyFile,
  upsertDevelopmentEntries,
  writeFileAtomic,
  writePrivateKeyFile,
} from '@switchboard/charter/node';
import { defaultProviderConfig, parseTrustProxy } from './config.js';
import type { CodeSender } from './code-sender.js';
import { ConsoleCodeSender, WebhookCodeSender } from './code-sender.js';
import { createLimits } from './deps.js';
import type { ProviderDeps } from './deps.js';
import { HttpDirectoryPublisher } from './directory-client.js';
import { createProviderApp } from './app.js';
import { attachMailboxSockets } from './mailbox-socket.js';
import { DatabaseReplayCache } from './replay-cache.js';
import { startMailboxRelay, sweepExpired } from './mailboxes.js';
import { reconcileDirectory } from './accounts.js';
import { createApiKey, hasApiKeys } from './operator-keys.js';
import { PROVIDER_MIGRATIONS } from './store/migrations.js';
import { TrustedProviders, openTrustListSource } from './trust-list.js';
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

/**
 * Starts the provider API (embedded default: 127.0.0.1:8080, SQLite under the data dir, console
 * code sender, a provider key created on first run and registered in the development trust list).
 *
 * Environment: `PROVIDER_API_HOST`, `PROVIDER_API_PORT`, `PROVIDER_DATABASE_URL`, `PROVIDER_ID`,
 * `PROVIDER_CURRENCY`, `PROVIDER_CODE_WEBHOOK_URL` (+ `PROVIDER_CODE_WEBHOOK_TOKEN`),
 * `SWITCHBOARD_DIRECTORY_URL` (default: the embedded directory's publish API, when it runs),
 * `PROVIDER_PUBLIC_URL`, `PROVIDER_TRUST_PROXY`, `PROVIDER_VALIDATE_RESPONSES`, `PROVIDER_STATE_DIR`
 * (default `<data>/provider-api`), `SWITCHBOARD_TRUST_LIST` with `SWITCHBOARD_BOARD_FINGERPRINT`
 * (the pinned board; start-up fails when a list is given without it; default: the development
 * list under `<data>/charter`, pinned to its development board, in which this provider accredits
 * itself), `PROVIDER_METRICS_HOST` /
 * `PROVIDER_METRICS_PORT` (the `/metrics` listener, default 127.0.0.1:9080, any free port when
 * `PROVIDER_API_PORT` is 0), `LOG_LEVEL`. A list that is missing or does not verify does not stop the service:
 * it logs why and refuses number moves (503) until a verified list is in place.
 */
export async function startService(ctx: ServiceContext): Promise<RunningService | null> {
  const env = ctx.env;
  const host = env['PROVIDER_API_HOST'] ?? '127.0.0.1';
  const port = Number(env['PROVIDER_API_PORT'] ?? 8080);
  const metricsAt = metricsAddress(env, 'PROVIDER', { servicePort: port, defaultPort: 9080 });
  const stateDir = env['PROVIDER_STATE_DIR'] ?? join(ctx.dataDir, 'provider-api');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ service: 'provider-api', level: env['LOG_LEVEL'] ?? 'info' });
  const providerId = env['PROVIDER_ID'] ?? 'dev-provider';
  const config = defaultProviderConfig({
    providerId,
    currency: env['PROVIDER_CURRENCY'] ?? 'EUR',
  });
  const now = (): number => Date.now();

  // Other providers (their release keys and API addresses) come from the trust list, verified
  // against the pinned board on every read (re-read when the file changes); without a verified
  // list number moves are refused (fail closed).
  const trusted = new TrustedProviders(
    await openTrustListSource(
      {
        path: env['SWITCHBOARD_TRUST_LIST'],
        boardFingerprint: env['SWITCHBOARD_BOARD_FINGERPRINT'],
        devDir: join(ctx.dataDir, 'charter'),
        stateFile: join(stateDir, 'trust-list-state.json'),
      },
      new Date(now()),
    ),
    logger,
  );
  const database = await openDatabase<ProviderTables>({
    url: env['PROVIDER_DATABASE_URL'] ?? `sqlite:${join(stateDir, 'provider.db')}`,
  });
  await migrateToLatest(
    database.db as Kysely<unknown>,
    database.dialect,
    'provider_api',
    PROVIDER_MIGRATIONS,
  );

  const key = await loadOrCreateProviderKey(join(stateDir, 'provider-key.json'), providerId);
  // The embedded directory, when it runs, says where its publish API listens.
  const embedded = ctx.started.find((s) => s.name === 'directory') as
    { publishUrl?: string } | undefined;
  const directoryUrl = env['SWITCHBOARD_DIRECTORY_URL'] ?? embedded?.publishUrl;
  const codeSender: CodeSender = env['PROVIDER_CODE_WEBHOOK_URL']
    ? new WebhookCodeSender({
        url: env['PROVIDER_CODE_WEBHOOK_URL'],
        ...(env['PROVIDER_CODE_WEBHOOK_TOKEN']
          ? { bearerToken: env['PROVIDER_CODE_WEBHOOK_TOKEN'] }
          : {}),
      })
    : new ConsoleCodeSender((line) => process.stderr.write(line));

  const findProvider = (id: string): Promise<ProviderEntry | undefined> =>
    trusted.find(id, new Date(now()));
  const providerKeys = (id: string): Promise<KeyObject[]> =>
    trusted.publishingKeys(id, new Date(now()));
  const completePortOutAt = async (
    id: string,
    portOutId: string,
    signature: string,
  ): Promise<void> => {
    const entry = await findProvider(id);
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

  const verificationSecret = await loadOrCreateSecret(join(stateDir, 'verification-secret'));
  const replayCache = new DatabaseReplayCache(database.db, now);
  const deps: ProviderDeps = {
    db: database.db,
    dialect: database.dialect,
    config,
    now,
    codeSender,
    directory: directoryUrl
      ? new HttpDirectoryPublisher({
          baseUrl: directoryUrl,
          keyId: providerId,
          privateKey: key.privateKey,
          now,
        })
      : undefined,
    providerKey: key.privateKey,
    providerKeys,
    completePortOutAt,
    replayCache,
    verificationSecret,
    logger,
    limits: createLimits(config, now),
  };

  const keyFile = join(stateDir, 'operator-api-key');
  if (!(await hasApiKeys(deps))) {
    const created = await createApiKey(deps, {
      name: 'initial operator',
      scopes: ['admin:keys', 'accounts:read', 'billing:write'],
    });
    await writeFileAtomic(keyFile, `${created.key}\n`, 0o600);
  }

  const trustProxy = env['PROVIDER_TRUST_PROXY'];
  const { app, hub, metrics } = createProviderApp(deps, {
    validateResponses: env['PROVIDER_VALIDATE_RESPONSES'] === '1',
    ...(trustProxy === undefined ? {} : { trustProxy: parseTrustProxy(trustProxy) }),
  });
  const server = expressServer(app);
  const closeSockets = attachMailboxSockets(server, deps, hub, {
    trustProxy: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
  });
  const running = await listenHttp(server, host, port);
  let stopRelay = async (): Promise<void> => undefined;
  let metricsServer: RunningHttpServer | undefined;
  try {
    metricsServer = await listenMetrics(metrics, metricsAt.host, metricsAt.port, (err) =>
      logger.error({ err }, 'metrics could not be collected'),
    );
    // Replicas on one PostgreSQL database push each other's mailbox deliveries.
    if (database.notifications) {
      stopRelay = await startMailboxRelay(deps, hub, database.notifications);
    }
    if (env['SWITCHBOARD_TRUST_LIST'] === undefined) {
      // Embedded stack: accredit this provider in the development trust list.
      const nowDate = new Date();
      await upsertDevelopmentEntries(
        { dir: join(ctx.dataDir, 'charter'), now: nowDate },
        {
          providers: [
            {
              id: providerId,
              name: `Development provider ${providerId}`,
              apiBaseUrl: env['PROVIDER_PUBLIC_URL'] ?? running.url,
              publishingKeys: [publicKeyRecord({ publicKey: key.publicKey })],
              networks: ['sip', 'xmpp', 'matrix', 'mailbox'],
              accreditation: {
                notBefore: '2020-01-01T00:00:00Z',
                notAfter: '2100-01-01T00:00:00Z',
              },
              status: 'active',
            },
          ],
        },
      );
    }
  } catch (err) {
    closeSockets();
    await stopRelay();
    await metricsServer?.close();
    await running.close();
    await database.close();
    throw err;
  }
  // Says at start-up (in the log) when number moves are refused for want of a verified list.
  await trusted.find(providerId, new Date(now())).catch(() => undefined);
  const sweeper = setInterval(() => {
    sweepExpired(deps)
      .then(() => reconcileDirectory(deps))
      .then(
        () => replayCache.sweep(),
        (err: unknown) => logger.warn({ err }, 'sweep failed'),
      )
      .catch((err: unknown) => logger.warn({ err }, 'sweep failed'));
  }, 60_000);
  sweeper.unref();
  logger.info(
    { url: running.url, dialect: database.dialect, directory: directoryUrl ?? 'none' },
    'provider API listening',
  );

  let stopped: Promise<void> | undefined;
  return {
    name: 'provider-api',
    listening: [
      `HTTP ${running.url} (onboarding page /, API docs ${running.url}/docs/)`,
      `metrics ${metricsServer.url}/metrics`,
      `operator API key in ${keyFile}`,
    ],
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(sweeper);
        closeSockets();
        await stopRelay();
        await metricsServer.close();
        await running.close();
        await database.close();
      })()),
  };
}
