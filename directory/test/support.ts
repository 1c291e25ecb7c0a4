import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { openDatabase } from '@switchboard/db';
import type { DialectName } from '@switchboard/db';
import { testPostgresUrl } from '@switchboard/db/testing';
import { signRequest } from '@switchboard/http-signature';
import { createLogger } from '@switchboard/service-kit';
import type { DirectoryOptions, RunningDirectory } from '../src/directory.js';
import { startDirectory } from '../src/directory.js';
import { createOpenApiValidator, loadDocument } from '@switchboard/openapi';
import { StaticProviderKeys } from '../src/publish/providers.js';

/** A provider with its Ed25519 request-signing key. */
export interface TestProvider {
  readonly id: string;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

export function makeProvider(id: string): TestProvider {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { id, publicKey, privateKey };
}

/** A directory on random ports in a temporary data directory, plus helpers. */
export interface TestDirectory {
  readonly dir: RunningDirectory;
  readonly schema: string | undefined;
  readonly dataDir: string;
  readonly providers: Map<string, TestProvider>;
  request(
    provider: TestProvider,
    method: string,
    path: string,
    body?: unknown,
    options?: { now?: number; nonce?: string; contentType?: string; rawBody?: string },
  ): Promise<{ status: number; body: Record<string, unknown> | undefined; headers: Headers }>;
  close(): Promise<void>;
}

export const APEX = 'e164.switchboard.test.';

/** The publish API contract; every response the tests see is checked against it. */
const contract = createOpenApiValidator(loadDocument('directory'));
const OPERATIONS: Readonly<Record<string, string>> = {
  GET: 'getNumber',
  PUT: 'publishNumber',
  DELETE: 'withdrawNumber',
};

/** Throws when a response does not match openapi/directory.yaml. */
export function checkContract(
  method: string,
  path: string,
  status: number,
  contentType: string | null,
  body: unknown,
): void {
  const operationId = path.startsWith('/v1/numbers/') ? OPERATIONS[method] : undefined;
  if (!operationId) return;
  const result = contract.validateResponse(operationId, status, contentType ?? undefined, body);
  if (!result.ok) {
    throw new Error(
      `${method} ${status} does not match openapi/directory.yaml: ${JSON.stringify(result.errors)}`,
    );
  }
}

/** Starts a directory with the given providers (`inactive` ones listed but suspended). */
export async function startTestDirectory(
  options: {
    dialect?: DialectName;
    providers?: readonly TestProvider[];
    inactive?: readonly TestProvider[];
    extra?: Partial<DirectoryOptions>;
    now?: () => number;
    /** PostgreSQL schema to share with another instance (the first one creates it). */
    sharedSchema?: string;
    /** The data directory of a directory stopped before (a restart); a new one by default. */
    dataDir?: string;
  } = {},
): Promise<TestDirectory> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sb-directory-')));
  const providers = new Map<string, TestProvider>();
  for (const p of options.providers ?? []) providers.set(p.id, p);
  const table: Array<[string, { key: KeyObject; active: boolean }]> = [
    ...(options.providers ?? []).map((p): [string, { key: KeyObject; active: boolean }] => [
      p.id,
      { key: p.publicKey, active: true },
    ]),
    ...(options.inactive ?? []).map((p): [string, { key: KeyObject; active: boolean }] => [
      p.id,
      { key: p.publicKey, active: false },
    ]),
  ];
  const dialect = options.dialect ?? 'sqlite';
  const schema =
    options.sharedSchema ??
    (dialect === 'postgres' ? `t_${randomBytes(6).toString('hex')}` : undefined);
  const dropSchema = schema !== undefined && options.sharedSchema === undefined;
  const dir = await startDirectory({
    dataDir,
    apex: APEX,
    algorithm: 13,
    databaseUrl:
      dialect === 'postgres' ? testPostgresUrl() : `sqlite:${join(dataDir, 'directory.db')}`,
    ...(schema ? { databaseSchema: schema } : {}),
    dnsHost: '127.0.0.1',
    dnsPort: 0,
    apiHost: '127.0.0.1',
    apiPort: 0,
    providers: new StaticProviderKeys(table),
    logger: createLogger({ service: 'directory', level: 'silent' }),
    rrl: { responsesPerSecond: 0, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 },
    ...(options.now ? { now: options.now } : {}),
    ...options.extra,
  });
  const now = options.now ?? Date.now;
  return {
    dir,
    schema,
    dataDir,
    providers,
    async request(provider, method, path, body, opts = {}) {
      const raw = opts.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
      const headers = signRequest({
        method,
        url: path,
        body: raw,
        keyId: provider.id,
        privateKey: provider.privateKey,
        now: (opts.now ?? now()) / 1000,
        ...(opts.nonce ? { nonce: opts.nonce } : {}),
      });
      const res = await fetch(dir.apiUrl + path, {
        method,
        headers: {
          ...headers,
          ...(raw.length > 0 ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
        },
        ...(raw.length > 0 ? { body: raw } : {}),
      });
      const text = await res.text();
      const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      checkContract(method, path, res.status, res.headers.get('content-type'), parsed);
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await dir.stop();
      await rm(dataDir, { recursive: true, force: true });
      if (schema && dropSchema) {
        const admin = await openDatabase<unknown>({ url: testPostgresUrl() });
        try {
          await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(admin.db);
        } finally {
          await admin.close();
        }
      }
    },
  };
}

export const CONTACTS = [
  { service: 'sip', uri: 'sip:alice@sip.example.net' },
  { service: 'xmpp', uri: 'xmpp:alice@xmpp.example.net' },
  { service: 'matrix', uri: 'matrix:u/alice:example.net' },
];
