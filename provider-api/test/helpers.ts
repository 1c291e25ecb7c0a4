import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import type { DialectName } from '@switchboard/db';
import { migrateToLatest } from '@switchboard/db';
import type { TestDatabase } from '@switchboard/db/testing';
import { openTestDatabase } from '@switchboard/db/testing';
import { signRequest } from '@switchboard/http-signature';
import { createLogger, expressServer } from '@switchboard/service-kit';
import type { ProviderConfig } from '../src/core/config.js';
import { defaultProviderConfig } from '../src/core/config.js';
import { MemoryCodeSender } from '../src/core/code-sender.js';
import type { ProviderDeps } from '../src/core/deps.js';
import { createLimits } from '../src/core/deps.js';
import { MemoryDirectoryPublisher } from '../src/core/directory-client.js';
import { DatabaseReplayCache } from '../src/core/replay-cache.js';
import { PROVIDER_MIGRATIONS } from '../src/store/migrations.js';
import type { ProviderTables } from '../src/store/schema.js';
import { createProviderApp } from '../src/app.js';
import { attachMailboxSockets } from '../src/mailboxes/mailbox-socket.js';
import { startMailboxRelay } from '../src/mailboxes/mailboxes.js';
import { senderCertificateMessage } from '../src/prekeys/sender-certificates.js';

/** A controllable clock (milliseconds). */
export interface TestClock {
  now: number;
}

/** A provider API under test, on a real port. */
export interface TestProvider {
  readonly deps: ProviderDeps;
  readonly clock: TestClock;
  readonly codes: MemoryCodeSender;
  readonly directory: MemoryDirectoryPublisher;
  readonly providerKey: { privateKey: KeyObject; publicKey: KeyObject };
  /** The key of `provider-b`, another provider of the trust list (certifies remote askers). */
  readonly peerKey: { privateKey: KeyObject; publicKey: KeyObject };
  readonly url: string;
  /** The database, for a second replica (see `replicaOf`). */
  readonly database: TestDatabase<ProviderTables>;
  close(): Promise<void>;
}

/**
 * Starts a provider API on an empty database of `dialect`, with response validation on; with
 * `replicaOf`, another replica on that provider's database (closing it leaves the database).
 */
export async function startTestProvider(
  dialect: DialectName,
  overrides: Partial<ProviderConfig> = {},
  replicaOf?: TestProvider,
): Promise<TestProvider> {
  const database = replicaOf?.database ?? (await openTestDatabase<ProviderTables>(dialect));
  if (!replicaOf) {
    await migrateToLatest(
      database.db as Kysely<unknown>,
      dialect,
      'provider_api',
      PROVIDER_MIGRATIONS,
    );
  }
  const clock: TestClock = { now: Date.UTC(2026, 0, 1) };
  const now = (): number => clock.now;
  const config = defaultProviderConfig({ providerId: 'provider-a', ...overrides });
  const codes = new MemoryCodeSender();
  const directory = new MemoryDirectoryPublisher();
  const providerKey = generateKeyPairSync('ed25519');
  const peerKey = generateKeyPairSync('ed25519');
  const errors: unknown[] = [];
  const deps: ProviderDeps = {
    db: database.db,
    dialect,
    config,
    now,
    codeSender: codes,
    directory,
    providerKey: providerKey.privateKey,
    providerKeys: (id) =>
      id === 'provider-a'
        ? [providerKey.publicKey]
        : id === 'provider-b'
          ? [peerKey.publicKey]
          : [],
    replayCache: new DatabaseReplayCache(database.db, now),
    verificationSecret: randomBytes(32),
    logger: createLogger({ service: 'provider-api-test', level: 'silent' }),
    limits: createLimits(config, now),
  };
  const { app, listener, hub } = createProviderApp(deps, {
    validateResponses: true,
    trustProxy: true,
  });
  // Served as the service serves it: bundle fetches by the bare listener's fast path.
  const server = expressServer(app, listener);
  const closeSockets = attachMailboxSockets(server, deps, hub, {
    trustProxy: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
  });
  // As the service does: replicas on one PostgreSQL database relay mailbox pushes.
  const stopRelay = database.notifications
    ? await startMailboxRelay(deps, hub, database.notifications)
    : async (): Promise<void> => undefined;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    deps,
    clock,
    codes,
    directory,
    providerKey,
    peerKey,
    url,
    database,
    close: async () => {
      closeSockets();
      await stopRelay();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      if (!replicaOf) await database.dispose();
      if (errors.length > 0) throw new Error('unexpected errors');
    },
  };
}

/** A JSON response. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

/** Calls the API; `signer` signs the request (device or mailbox key). */
export async function call(
  p: Pick<TestProvider, 'url' | 'clock'>,
  method: string,
  path: string,
  body?: unknown,
  options: {
    signer?: { keyId: string; privateKey: KeyObject };
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.signer) {
    Object.assign(
      headers,
      signRequest({
        method,
        url: path,
        body: text,
        keyId: options.signer.keyId,
        privateKey: options.signer.privateKey,
        now: p.clock.now / 1000,
      }),
    );
  }
  const res = await fetch(`${p.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: text }),
  });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, json: raw ? JSON.parse(raw) : undefined };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Keys a client generates with libsignal, plus the device key. */
export interface ClientKeys {
  readonly identity: IdentityKeyPair;
  readonly device: { privateKey: KeyObject; publicKey: KeyObject };
  readonly registration: {
    registrationId: number;
    identityKey: string;
    signedPreKey: { keyId: number; publicKey: string; signature: string };
    kyberLastResortPreKey: { keyId: number; publicKey: string; signature: string };
    oneTimePreKeys: { keyId: number; publicKey: string }[];
    oneTimeKyberPreKeys: { keyId: number; publicKey: string; signature: string }[];
    deviceKey: string;
  };
  readonly signedPreKeyPrivate: PrivateKey;
  readonly kyberLastResort: KEMKeyPair;
  readonly oneTimePrivate: Map<number, PrivateKey>;
  readonly oneTimeKyber: Map<number, KEMKeyPair>;
}

/** Real libsignal keys for a registration: `ec` one-time EC prekeys, `kyber` one-time Kyber. */
export function makeClientKeys(ec = 5, kyber = 2, firstId = 1): ClientKeys {
  const identity = IdentityKeyPair.generate();
  const spk = PrivateKey.generate();
  const lastResort = KEMKeyPair.generate();
  const oneTimePrivate = new Map<number, PrivateKey>();
  const oneTimeKyber = new Map<number, KEMKeyPair>();
  const oneTimePreKeys = Array.from({ length: ec }, (_, i) => {
    const k = PrivateKey.generate();
    oneTimePrivate.set(firstId + i, k);
    return { keyId: firstId + i, publicKey: b64(k.getPublicKey().serialize()) };
  });
  const oneTimeKyberPreKeys = Array.from({ length: kyber }, (_, i) => {
    const k = KEMKeyPair.generate();
    oneTimeKyber.set(firstId + 1000 + i, k);
    const pub = k.getPublicKey().serialize();
    return {
      keyId: firstId + 1000 + i,
      publicKey: b64(pub),
      signature: b64(identity.privateKey.sign(pub)),
    };
  });
  const device = generateKeyPairSync('ed25519');
  const rawDevice = device.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    identity,
    device,
    signedPreKeyPrivate: spk,
    kyberLastResort: lastResort,
    oneTimePrivate,
    oneTimeKyber,
    registration: {
      registrationId: 1 + Math.floor(Math.random() * 16000),
      identityKey: b64(identity.publicKey.serialize()),
      signedPreKey: {
        keyId: 7,
        publicKey: b64(spk.getPublicKey().serialize()),
        signature: b64(identity.privateKey.sign(spk.getPublicKey().serialize())),
      },
      kyberLastResortPreKey: {
        keyId: 9,
        publicKey: b64(lastResort.getPublicKey().serialize()),
        signature: b64(identity.privateKey.sign(lastResort.getPublicKey().serialize())),
      },
      oneTimePreKeys,
      oneTimeKyberPreKeys,
      deviceKey: b64(rawDevice),
    },
  };
}

/** Opens a session for `number`, has a code sent and submits it; returns the session id. */
export async function verifyNumber(p: TestProvider, number: string, ip?: string): Promise<string> {
  const headers: Record<string, string> = ip ? { 'x-forwarded-for': ip } : {};
  const created = await call(p, 'POST', '/v1/verification/sessions', { number }, { headers });
  if (created.status !== 201)
    throw new Error(`session: ${created.status} ${JSON.stringify(created.json)}`);
  const id = created.json.sessionId as string;
  const sent = await call(
    p,
    'POST',
    `/v1/verification/sessions/${id}/code`,
    { transport: 'sms' },
    { headers },
  );
  if (sent.status !== 200) throw new Error(`code: ${sent.status} ${JSON.stringify(sent.json)}`);
  const normalised = p.codes.sent.at(-1)?.to ?? number;
  const code = p.codes.lastCodeFor(normalised);
  const ok = await call(p, 'PUT', `/v1/verification/sessions/${id}/code`, { code }, { headers });
  if (ok.status !== 200) throw new Error(`verify: ${ok.status} ${JSON.stringify(ok.json)}`);
  return id;
}

/** A registered account with its keys and a signer for device requests. */
export interface Registered {
  readonly accountId: string;
  readonly number: string;
  readonly keys: ClientKeys;
  readonly signer: { keyId: string; privateKey: KeyObject };
}

/** Verifies and registers `number` with fresh libsignal keys. */
export async function register(
  p: TestProvider,
  number: string,
  keys: ClientKeys = makeClientKeys(),
  extra: Record<string, unknown> = {},
  ip?: string,
): Promise<Registered> {
  const sessionId = await verifyNumber(p, number, ip);
  const res = await call(p, 'POST', '/v1/accounts', { sessionId, ...keys.registration, ...extra });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.json)}`);
  return {
    accountId: res.json.accountId,
    number: res.json.number,
    keys,
    signer: { keyId: res.json.accountId, privateKey: keys.device.privateKey },
  };
}

/** Numbers that libphonenumber accepts as valid (UK drama range and similar). */
export const NUMBERS = [
  '+442079460958',
  '+442079460959',
  '+442079460960',
  '+442079460961',
  '+442079460962',
];

/** An asker for bundle fetches: signs with its device key and sends its certificate. */
export interface Asker {
  readonly accountId: string;
  readonly signer: { keyId: string; privateKey: KeyObject };
  readonly headers: Record<string, string>;
}

/**
 * An account of `provider-b` (another provider of the trust list) with a sender certificate
 * `provider-b` issued, valid for `lifetimeSeconds` of the test clock.
 */
export function remoteAsker(
  p: Pick<TestProvider, 'peerKey' | 'clock'>,
  lifetimeSeconds = 3600,
): Asker {
  const accountId = randomUUID();
  const device = generateKeyPairSync('ed25519');
  const raw = device.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const expiresAt = Math.floor(p.clock.now / 1000) + lifetimeSeconds;
  const message = senderCertificateMessage('provider-b', accountId, raw, expiresAt);
  const signature = sign(null, message, p.peerKey.privateKey);
  return {
    accountId,
    signer: { keyId: accountId, privateKey: device.privateKey },
    headers: {
      'sender-certificate': `${message.toString('base64url')}.${signature.toString('base64url')}`,
    },
  };
}

/** Fetches a bundle as `asker` (a registered account here, or a {@link remoteAsker}). */
export function fetchBundle(
  p: Pick<TestProvider, 'url' | 'clock'>,
  address: string,
  asker: Pick<Asker, 'signer'> & { readonly headers?: Record<string, string> },
  headers: Record<string, string> = {},
): Promise<Answer> {
  return call(p, 'GET', `/v1/keys/bundles/${encodeURIComponent(address)}`, undefined, {
    signer: asker.signer,
    headers: { ...(asker.headers ?? {}), ...headers },
  });
}

/** Opts `account` in to the directory (so that any asker may fetch its bundle). */
export async function makeDiscoverable(p: TestProvider, account: Registered): Promise<void> {
  const contacts = [{ service: 'sip', uri: 'sip:someone@example.net' }];
  const r = await call(
    p,
    'PUT',
    '/v1/account/discoverability',
    { discoverable: true, contacts },
    { signer: account.signer },
  );
  if (r.status !== 200) throw new Error(`discoverability: ${r.status}`);
}
