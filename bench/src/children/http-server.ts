// Child process for the HTTP benchmarks, pinned to one core by the parent:
//   node http-server.js provider <sqlite|postgres> <port> <workDir> <bundleAccounts> <sessions>
//     [<prekeysPerAccount>]
//   node http-server.js bare <port> <workDir> <bundleBytes> <express-server|create-server>
//     [<provider fixture.json>]
// `provider` runs the real provider API (provider-api/dist/src/app.js) on a fresh database with
// rate limits lifted (the per-asker and per-pair bundle limits too), registers <bundleAccounts>
// discoverable accounts, each also a bundle asker whose device key goes into the fixture
// (100 one-time EC + Kyber prekeys each,
// then topped up to <prekeysPerAccount> per kind with copies under new key ids, so that a run
// never exhausts them) and opens <sessions> verified sessions through its own HTTP API, writes
// them to <workDir>/fixture.json, then serves. `bare` is the baseline: express 5 with
// express.json() and two handlers of the same shape and response size, no database, served
// like the provider by service-kit's expressServer (`express-server`: the like-for-like
// baseline) or by plain http.createServer (`create-server`). Both answer bundle fetches only
// when signed by an asker of the provider's fixture (the same RFC 9421 verification and replay
// check as the provider, keys and nonces in memory instead of the database).
import type { KeyObject } from 'node:crypto';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database, DialectName } from '@switchboard/db';
import { migrateToLatest, openDatabase } from '@switchboard/db';
import { MemoryReplayCache, verifyRequest } from '@switchboard/http-signature';
import { createLogger, expressServer } from '@switchboard/service-kit';
import type { HttpFixture } from '../fixtures/provider-fixture.js';
import { registrationBody } from '../fixtures/provider-fixture.js';
import type { BenchAsker } from '../fixtures/signed-requests.js';
import { bundlePath, signBundleFetch } from '../fixtures/signed-requests.js';
import { generateBenchZone } from '../fixtures/zone-data.js';

// SB_BENCH_PROVIDER_DIST: another build of provider-api's dist/src (A/B comparisons by hand).
const providerDist =
  process.env['SB_BENCH_PROVIDER_DIST'] ??
  resolve(import.meta.dirname, '../../../../provider-api/dist/src');
const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** How a server is served: service-kit's expressServer (as `npm start` does), or createServer. */
type Served = 'express-server' | 'create-server';

/**
 * The provider is served as `npm start` serves it (service-kit's expressServer); the bare
 * baseline both that way (like for like) and as express is usually served, by
 * `http.createServer(app)` (about 4x slower for a bare app: docs/decisions.md).
 */
function listen(
  app: express.Express,
  port: number,
  served: Served,
  listener: RequestListener = app,
): Promise<Server> {
  const server =
    served === 'express-server' ? expressServer(app, listener) : createServer(listener);
  server.keepAliveTimeout = 60_000;
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}

async function post(base: string, path: string, body: unknown, method = 'POST'): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

interface ProviderModules {
  app: {
    createProviderApp(
      deps: unknown,
      options: unknown,
    ): {
      app: express.Express;
      /** The bundle fetch fast path before the app (absent in older builds: the app alone). */
      listener?: RequestListener;
      hub: unknown;
    };
  };
  sockets: { attachMailboxSockets(server: Server, deps: unknown, hub: unknown): () => void };
  config: {
    defaultProviderConfig(o: unknown): Record<string, unknown>;
    /** The page cache `src/service.ts` opens SQLite with (absent in older builds: the default). */
    PROVIDER_SQLITE_CACHE_KIB?: number;
  };
  deps: { createLimits(config: unknown, now: () => number): unknown };
  codes: { MemoryCodeSender: new () => { lastCodeFor(n: string): string | undefined } };
  replay: { DatabaseReplayCache: new (db: unknown, now: () => number) => unknown };
  migrations: { PROVIDER_MIGRATIONS: Record<string, never> };
}

async function loadProvider(): Promise<ProviderModules> {
  const load = (f: string): Promise<unknown> => import(pathToFileURL(join(providerDist, f)).href);
  return {
    app: (await load('app.js')) as ProviderModules['app'],
    sockets: (await load('mailboxes/mailbox-socket.js')) as ProviderModules['sockets'],
    config: (await load('core/config.js')) as ProviderModules['config'],
    deps: (await load('core/deps.js')) as ProviderModules['deps'],
    codes: (await load('core/code-sender.js')) as ProviderModules['codes'],
    replay: (await load('core/replay-cache.js')) as ProviderModules['replay'],
    migrations: (await load('store/migrations.js')) as ProviderModules['migrations'],
  };
}

interface FixtureSize {
  readonly bundleAccounts: number;
  readonly sessions: number;
  readonly prekeysPerAccount: number;
}

type Verify = (number: string) => Promise<string>;

/** A verified session for `number` through the API (code read off the in-memory sender). */
function verifier(base: string, codes: { lastCodeFor(n: string): string | undefined }): Verify {
  return async (number) => {
    const s = (await post(base, '/v1/verification/sessions', { number })) as {
      sessionId: string;
    };
    await post(base, `/v1/verification/sessions/${s.sessionId}/code`, { transport: 'sms' });
    await post(
      base,
      `/v1/verification/sessions/${s.sessionId}/code`,
      { code: codes.lastCodeFor(number) },
      'PUT',
    );
    return s.sessionId;
  };
}

/**
 * Registers the bundle accounts through the API, each with a device key kept as a bundle asker
 * (every bundle account asks for the others' bundles), and makes them discoverable straight in
 * the database (no directory here): askers need no prior contact to be served.
 */
async function registerBundleAccounts(
  base: string,
  db: Kysely<unknown>,
  verify: Verify,
  numbers: readonly string[],
): Promise<BenchAsker[]> {
  const askers: BenchAsker[] = [];
  for (const number of numbers) {
    const device = generateKeyPairSync('ed25519');
    const body = registrationBody(await verify(number), 100, device.publicKey);
    const r = (await post(base, '/v1/accounts', body)) as { accountId: string };
    const der = device.privateKey.export({ format: 'der', type: 'pkcs8' });
    askers.push({ accountId: r.accountId, devicePrivateKey: der.toString('base64') });
  }
  await sql`UPDATE accounts SET discoverable = 1`.execute(db);
  return askers;
}

/** Copies every account's 100 one-time prekeys under new ids up to `perAccount` of each kind. */
async function topUpPrekeys(db: Kysely<unknown>, perAccount: number): Promise<number> {
  for (let copy = 1; copy < Math.ceil(perAccount / 100); copy++) {
    await sql`INSERT INTO one_time_prekeys (account_id, kind, key_id, public_key, signature)
      SELECT account_id, kind, key_id + ${copy * 100_000}, public_key, signature
      FROM one_time_prekeys WHERE key_id < 100000`.execute(db);
  }
  const perKind = await sql<{ kind: string; n: number | string }>`
    SELECT kind, count(*) AS n FROM one_time_prekeys GROUP BY kind`.execute(db);
  return perKind.rows.length < 2 ? 0 : Math.min(...perKind.rows.map((r) => Number(r.n)));
}

/** One signed fetch (asker 1 for target 0), checked: the bundle size the bare apps answer. */
async function signedBundleBytes(base: string, askers: readonly BenchAsker[]): Promise<number> {
  const target = askers[0];
  if (target === undefined) return 0;
  const asker = askers[askers.length > 1 ? 1 : 0] as BenchAsker;
  const key = createPrivateKey({
    key: Buffer.from(asker.devicePrivateKey, 'base64'),
    format: 'der',
    type: 'pkcs8',
  });
  const req = signBundleFetch(asker.accountId, key, bundlePath(target.accountId));
  const res = await fetch(`${base}${req.path}`, { headers: req.headers });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"identityKey"')) {
    throw new Error(`signed bundle fetch: ${res.status} ${text.slice(0, 200)}`);
  }
  return Buffer.byteLength(text);
}

/** The provider's fixture, made through its own API (not measured). */
async function buildFixture(
  base: string,
  db: Kysely<unknown>,
  codes: { lastCodeFor(n: string): string | undefined },
  size: FixtureSize,
): Promise<HttpFixture> {
  const count = size.bundleAccounts + size.sessions;
  const numbers =
    count === 0
      ? []
      : generateBenchZone({ count, missingCount: 0, seed: 99 }).entries.map((e) => e.number);
  const verify = verifier(base, codes);
  const askers = await registerBundleAccounts(
    base,
    db,
    verify,
    numbers.slice(0, size.bundleAccounts),
  );
  const oneTimePreKeysPerKind = await topUpPrekeys(db, size.prekeysPerAccount);
  const sessionIds: string[] = [];
  for (const number of numbers.slice(size.bundleAccounts)) sessionIds.push(await verify(number));
  return {
    bundleTargets: askers.map((a) => a.accountId),
    askers,
    sessions: sessionIds,
    bundleBytes: await signedBundleBytes(base, askers),
    oneTimePreKeysPerKind,
  };
}

/** The provider's default config with every rate limit and cap a bench would hit lifted. */
function limitsLifted(
  defaults: ProviderModules['config']['defaultProviderConfig'],
): Record<string, unknown> {
  const unlimited = { capacity: 1e9, perSeconds: 1 };
  const config = defaults({ providerId: 'bench-provider' });
  const verification = config['verification'] as Record<string, unknown>;
  const prekeys = config['prekeys'] as Record<string, unknown>;
  const mailboxes = config['mailboxes'] as Record<string, unknown>;
  return {
    ...config,
    verification: {
      ...verification,
      perClientAddress: unlimited,
      sendsPerNumber: unlimited,
      sendsPerNumberAndClient: unlimited,
      sendsPerClientAddress: unlimited,
      sendsPerDestinationRange: unlimited,
      sendsGlobal: unlimited,
      attemptsPerNumberAndClient: unlimited,
      attemptsPerClientAddress: unlimited,
      resendIntervalSeconds: 0,
    },
    // Generous bundle limits (per client prefix, target, asker, asker+target; one-time keys
    // on every fetch): the bench measures served fetches, not refusals.
    prekeys: {
      ...prekeys,
      fetchPerClientAddress: unlimited,
      fetchPerTarget: unlimited,
      fetchPerAsker: unlimited,
      fetchPerAskerAndTarget: unlimited,
      oneTimeKeysPerPairSeconds: 0,
      oneTimeKeysPerIssuerAndTarget: unlimited,
    },
    // Every subscriber and sender is on loopback: one client prefix for the whole benchmark.
    mailboxes: {
      ...mailboxes,
      deliverPerClientAddress: unlimited,
      maxMessagesPerMailbox: 1e9,
      maxMessagesPerSenderPerMailbox: 1e9,
      maxBytesPerSenderPerMailbox: 1e12,
      maxStoredBytesPerSenderPrefix: 1e12,
      maxMessagesPerUnclaimedMailbox: 1e9,
      maxBytesPerUnclaimedMailbox: 1e12,
      maxBytesPerMailbox: 1e12,
      maxStoredBytes: 1e12,
      deliverBytesPerSenderPrefix: unlimited,
      deliverBytesPerMailbox: unlimited,
      maxSocketsPerMailbox: 1e6,
      maxSocketsPerClientPrefix: 1e6,
      socketUpgradesPerClientPrefix: unlimited,
    },
  };
}

/** The provider's database as `service.ts` opens it (SQLite file, or a fresh PostgreSQL schema). */
async function openProviderDatabase(
  m: Awaited<ReturnType<typeof loadProvider>>,
  dialect: DialectName,
  workDir: string,
): Promise<{ database: Database<unknown>; dropSchema: () => Promise<void> }> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const database = await openDatabase<unknown>(
    dialect === 'sqlite'
      ? {
          url: `sqlite:${join(workDir, 'provider.db')}`,
          ...(m.config.PROVIDER_SQLITE_CACHE_KIB === undefined
            ? {}
            : { sqliteCacheKiB: m.config.PROVIDER_SQLITE_CACHE_KIB }),
        }
      : { url: POSTGRES_URL, schema, poolSize: 10 },
  );
  const dropSchema = async (): Promise<void> => {
    if (dialect !== 'postgres') return;
    const cleanup = await openDatabase<unknown>({ url: POSTGRES_URL });
    try {
      await sql
        .raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        .execute(cleanup.db as Kysely<unknown>);
    } finally {
      await cleanup.close();
    }
  };
  return { database, dropSchema };
}

async function runProvider(
  dialect: DialectName,
  port: number,
  workDir: string,
  bundleAccounts: number,
  sessions: number,
  prekeysPerAccount: number,
): Promise<() => Promise<void>> {
  const m = await loadProvider();
  const { database, dropSchema } = await openProviderDatabase(m, dialect, workDir);
  let server: Server | undefined;
  let closeSockets = (): void => undefined;
  try {
    await migrateToLatest(
      database.db as Kysely<unknown>,
      dialect,
      'provider_api',
      m.migrations.PROVIDER_MIGRATIONS,
    );
    const liftedConfig = limitsLifted(m.config.defaultProviderConfig);
    const now = (): number => Date.now();
    const codes = new m.codes.MemoryCodeSender();
    const deps = {
      db: database.db,
      dialect,
      config: liftedConfig,
      now,
      codeSender: codes,
      directory: undefined,
      providerKey: generateKeyPairSync('ed25519').privateKey,
      replayCache: new m.replay.DatabaseReplayCache(database.db, now),
      logger: createLogger({ service: 'bench-provider', level: 'silent' }),
      limits: m.deps.createLimits(liftedConfig, now),
    };
    const { app, listener, hub } = m.app.createProviderApp(deps, { validateResponses: false });
    server = await listen(app, port, 'express-server', listener);
    closeSockets = m.sockets.attachMailboxSockets(server, deps, hub);
    const fixture = await buildFixture(
      `http://127.0.0.1:${port}`,
      database.db as Kysely<unknown>,
      codes,
      { bundleAccounts, sessions, prekeysPerAccount },
    );
    writeFileSync(join(workDir, 'fixture.json'), JSON.stringify(fixture));
  } catch (err) {
    closeSockets();
    server?.closeAllConnections();
    server?.close();
    await database.close();
    await dropSchema();
    throw err;
  }
  const running = server;
  return async () => {
    closeSockets();
    running.closeAllConnections();
    await new Promise((r) => running.close(r));
    await database.close();
    await dropSchema();
  };
}

/**
 * The bare app's credential check, the same work as the provider's minus its database: the
 * RFC 9421 verification of `@switchboard/http-signature` (parse, content digest, freshness,
 * Ed25519 signature over the same covered components) with the askers' device keys from memory
 * and an in-memory replay cache; 401 when it fails.
 */
function bareAsker(askers: readonly BenchAsker[]): express.RequestHandler {
  const keys = new Map<string, KeyObject>();
  for (const a of askers) {
    const key = createPrivateKey({
      key: Buffer.from(a.devicePrivateKey, 'base64'),
      format: 'der',
      type: 'pkcs8',
    });
    keys.set(a.accountId, createPublicKey(key));
  }
  const replayCache = new MemoryReplayCache();
  const empty = Buffer.alloc(0);
  return (req, res, next) => {
    verifyRequest({
      method: req.method,
      url: req.originalUrl,
      headers: req.headers,
      body: empty,
      now: Date.now() / 1000,
      resolveKey: (keyId) => keys.get(keyId),
      replayCache,
    }).then(
      () => next(),
      () => res.status(401).json({ title: 'unauthorized' }),
    );
  };
}

async function runBare(
  port: number,
  workDir: string,
  bundleBytes: number,
  served: Served,
  askers: readonly BenchAsker[],
): Promise<() => Promise<void>> {
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  // A response of the provider bundle's size, so both serialise and send the same bytes.
  const padding = 'A'.repeat(Math.max(0, bundleBytes - 40));
  app.get('/v1/keys/bundles/:address', bareAsker(askers), (req, res) => {
    res.json({ accountId: req.params.address, key: padding });
  });
  app.post('/register', (req, res) => {
    const body = req.body as { sessionId?: unknown };
    res.status(201).json({ accountId: randomUUID(), sessionId: body.sessionId });
  });
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const server = await listen(app, port, served);
  writeFileSync(
    join(workDir, 'fixture.json'),
    JSON.stringify({
      bundleTargets: ['x'],
      askers: [],
      sessions: [],
      bundleBytes,
      oneTimePreKeysPerKind: 0,
    } satisfies HttpFixture),
  );
  return async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  let stop: () => Promise<void>;
  if (mode === 'provider') {
    const [dialect, port, workDir, accounts, sessions, prekeys] = rest;
    if ((dialect !== 'sqlite' && dialect !== 'postgres') || !port || !workDir)
      throw new Error('usage: provider <sqlite|postgres> <port> <workDir> <accounts> <sessions>');
    stop = await runProvider(
      dialect,
      Number(port),
      workDir,
      Number(accounts ?? 100),
      Number(sessions ?? 1000),
      Number(prekeys ?? 100),
    );
  } else if (mode === 'bare') {
    const [port, workDir, bundleBytes, served, askersFrom] = rest;
    if (!port || !workDir || (served !== 'express-server' && served !== 'create-server'))
      throw new Error(
        'usage: bare <port> <workDir> <bundleBytes> <express-server|create-server> [<provider fixture.json>]',
      );
    const askers = askersFrom
      ? (JSON.parse(readFileSync(askersFrom, 'utf8')) as HttpFixture).askers
      : [];
    stop = await runBare(Number(port), workDir, Number(bundleBytes ?? 3000), served, askers);
  } else {
    throw new Error('mode must be provider or bare');
  }
  console.error('ready');
  const shutdown = (): void => {
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  console.error(`http-server: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
