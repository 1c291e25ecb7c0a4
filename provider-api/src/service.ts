import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { migrateToLatest, openDatabase } from '@switchboard/db';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import { createLogger, listenHttp } from '@switchboard/service-kit';
import { generateEd25519KeyPair, publicKeyRecord } from '@switchboard/charter';
import {
  readPrivateKeyFile,
  upsertDevelopmentEntries,
  writeFileAtomic,
  writePrivateKeyFile,
} from '@switchboard/charter/node';
import { defaultProviderConfig } from './config.js';
import type { CodeSender } from './code-sender.js';
import { ConsoleCodeSender, WebhookCodeSender } from './code-sender.js';
import { createLimits } from './deps.js';
import type { ProviderDeps } from './deps.js';
import { HttpDirectoryPublisher } from './directory-client.js';
import { createProviderApp } from './app.js';
import { attachMailboxSockets } from './mailbox-socket.js';
import { DatabaseReplayCache } from './replay-cache.js';
import { sweepExpired } from './mailboxes.js';
import { createApiKey, hasApiKeys } from './operator-keys.js';
import { PROVIDER_MIGRATIONS } from './store/migrations.js';
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

/**
 * Starts the provider API (embedded default: 127.0.0.1:8080, SQLite under the data dir, console
 * code sender, a provider key created on first run and registered in the development trust list).
 *
 * Environment: `PROVIDER_API_HOST`, `PROVIDER_API_PORT`, `PROVIDER_DATABASE_URL`, `PROVIDER_ID`,
 * `PROVIDER_CURRENCY`, `PROVIDER_CODE_WEBHOOK_URL` (+ `PROVIDER_CODE_WEBHOOK_TOKEN`),
 * `SWITCHBOARD_DIRECTORY_URL` (default `http://127.0.0.1:8053` when the embedded directory runs),
 * `PROVIDER_PUBLIC_URL`, `PROVIDER_TRUST_PROXY`, `PROVIDER_VALIDATE_RESPONSES`, `LOG_LEVEL`.
 */
export async function startService(ctx: ServiceContext): Promise<RunningService | null> {
  const env = ctx.env;
  const host = env['PROVIDER_API_HOST'] ?? '127.0.0.1';
  const port = Number(env['PROVIDER_API_PORT'] ?? 8080);
  const stateDir = join(ctx.dataDir, 'provider-api');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ service: 'provider-api', level: env['LOG_LEVEL'] ?? 'info' });
  const providerId = env['PROVIDER_ID'] ?? 'dev-provider';
  const config = defaultProviderConfig({
    providerId,
    currency: env['PROVIDER_CURRENCY'] ?? 'EUR',
  });
  const now = (): number => Date.now();

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
  const publicUrl = env['PROVIDER_PUBLIC_URL'] ?? `http://${host}:${port}`;
  if (env['SWITCHBOARD_TRUST_LIST'] === undefined) {
    // Embedded stack: accredit this provider in the development trust list.
    const nowDate = new Date();
    await upsertDevelopmentEntries(
      { dir: join(ctx.dataDir, 'charter'), now: nowDate },
      {
        providers: [
          {
            id: providerId,
            name: 'Development provider',
            apiBaseUrl: publicUrl,
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

  const directoryUrl =
    env['SWITCHBOARD_DIRECTORY_URL'] ??
    (ctx.started.some((s) => s.name === 'directory') ? 'http://127.0.0.1:8053' : undefined);
  const codeSender: CodeSender = env['PROVIDER_CODE_WEBHOOK_URL']
    ? new WebhookCodeSender({
        url: env['PROVIDER_CODE_WEBHOOK_URL'],
        ...(env['PROVIDER_CODE_WEBHOOK_TOKEN']
          ? { bearerToken: env['PROVIDER_CODE_WEBHOOK_TOKEN'] }
          : {}),
      })
    : new ConsoleCodeSender((line) => process.stderr.write(line));

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
    replayCache,
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
  const { app, hub } = createProviderApp(deps, {
    validateResponses: env['PROVIDER_VALIDATE_RESPONSES'] === '1',
    ...(trustProxy === undefined ? {} : { trustProxy }),
  });
  const server = createServer(app);
  const closeSockets = attachMailboxSockets(server, deps, hub);
  const running = await listenHttp(server, host, port);
  const sweeper = setInterval(() => {
    sweepExpired(deps)
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
      `operator API key in ${keyFile}`,
    ],
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(sweeper);
        closeSockets();
        await running.close();
        await database.close();
      })()),
  };
}
