// Shared fixtures for integration tests: a real directory (DNS + publish API) on port 0 and a
// development trust list naming it, signed by a development board.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import {
  createDevelopmentTrustList,
  generateEd25519KeyPair,
  publicKeyRecord,
} from '@switchboard/charter';
import type {
  DevelopmentBoard,
  DirectoryEntry,
  Ed25519KeyPair,
  ProviderEntry,
  VerifiedTrustList,
} from '@switchboard/charter';
import { StaticProviderKeys, startDirectory } from '@switchboard/directory';
import type { RunningDirectory } from '@switchboard/directory';
import { signRequest } from '@switchboard/http-signature';
import { createLogger } from '@switchboard/service-kit';
import { RRType, decodeMessage, encodeMessage, isRecordType } from '@switchboard/dns-wire';
import { enumNameFor } from '@switchboard/e164';
import { fromUtf8, toHex } from '../../src/index.js';
import { NodeDnsTransport } from '../../src/node/index.js';

export const APEX = 'e164.switchboard.test.';

export interface TestProvider {
  readonly id: string;
  readonly key: Ed25519KeyPair;
  apiBaseUrl: string;
}

export interface TestDirectory {
  readonly directory: RunningDirectory;
  readonly dataDir: string;
  readonly providers: ReadonlyMap<string, TestProvider>;
  readonly server: string;
  stop(): Promise<void>;
}

export function makeProvider(id: string, apiBaseUrl = 'http://127.0.0.1:9'): TestProvider {
  return { id, key: generateEd25519KeyPair(), apiBaseUrl };
}

/** Starts a directory that accepts publishes from `providers` (all active). */
export async function startTestDirectory(
  providers: ReadonlyArray<TestProvider>,
  options: { readonly now?: () => number } = {},
): Promise<TestDirectory> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-sdk-dir-'));
  const { createPublicKey } = await import('node:crypto');
  const directory = await startDirectory({
    dataDir,
    apex: APEX,
    algorithm: 13,
    databaseUrl: `sqlite:${join(dataDir, 'directory.db')}`,
    dnsHost: '127.0.0.1',
    dnsPort: 0,
    apiHost: '127.0.0.1',
    apiPort: 0,
    providers: new StaticProviderKeys(
      providers.map(
        (p) => [p.id, { key: createPublicKey(p.key.privateKey), active: true }] as const,
      ),
    ),
    logger: createLogger({ service: 'directory-test', level: 'silent' }),
    rrl: { responsesPerSecond: 0, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 },
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    directory,
    dataDir,
    providers: new Map(providers.map((p) => [p.id, p])),
    server: `127.0.0.1:${directory.dns.port}`,
    async stop() {
      await directory.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Publishes a number through the real, signed publish API (as a provider does). */
export async function publish(
  dir: TestDirectory,
  provider: TestProvider,
  number: string,
  identityKey: string,
  contacts: ReadonlyArray<{ service: string; uri: string }>,
): Promise<void> {
  const path = `/v1/numbers/${encodeURIComponent(number)}`;
  const body = JSON.stringify({ identityKey, contacts });
  const headers = signRequest({
    method: 'PUT',
    url: path,
    body,
    keyId: provider.id,
    privateKey: provider.key.privateKey as KeyObject,
    now: Date.now() / 1000,
  });
  const res = await fetch(dir.directory.apiUrl + path, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/json' },
    body,
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`publish failed: ${res.status} ${await res.text()}`);
  }
  await waitForDns(dir.server, number, identityKey);
}

/**
 * Waits until the directory serves `number` (with `identityKey`, when given) over DNS. The
 * directory applies changes within about a second; polling keeps tests correct on a loaded
 * machine without a fixed sleep.
 */
export async function waitForDns(
  server: string,
  number: string,
  identityKey?: string,
): Promise<void> {
  const dns = new NodeDnsTransport({ timeoutMs: 1000 });
  const name = enumNameFor(number, APEX);
  for (let attempt = 0; attempt < 300; attempt++) {
    const query = encodeMessage({
      id: attempt,
      qr: false,
      opcode: 0,
      aa: false,
      tc: false,
      rd: false,
      ra: false,
      z: false,
      ad: false,
      cd: false,
      rcode: 0,
      questions: [{ name, type: RRType.TXT, class: 1 }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    try {
      const answer = decodeMessage(await dns.exchange(server, query, 'tcp'));
      const texts = answer.answers.flatMap((rr) =>
        isRecordType(rr, RRType.TXT) ? rr.data.texts.map((t) => fromUtf8(t) ?? '') : [],
      );
      if (
        texts.some(
          (t) => t.startsWith('v=sbkey1') && (!identityKey || t.includes(`k=${identityKey}`)),
        )
      )
        return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the directory did not publish the number in time');
}

export function directoryEntry(
  dir: TestDirectory,
  overrides: Partial<DirectoryEntry> = {},
): DirectoryEntry {
  const ds = dir.directory.keys.ds;
  return {
    id: 'dir-test',
    operator: 'Test directory',
    apex: APEX,
    trustAnchors: [
      {
        type: 'DS',
        keyTag: ds.keyTag,
        algorithm: ds.algorithm,
        digestType: ds.digestType,
        digest: toHex(ds.digest),
      },
    ],
    nameservers: [dir.server],
    publishEndpoint: dir.directory.apiUrl,
    status: 'active',
    ...overrides,
  };
}

export function providerEntry(p: TestProvider, now: Date): ProviderEntry {
  return {
    id: p.id,
    name: p.id,
    apiBaseUrl: p.apiBaseUrl,
    publishingKeys: [publicKeyRecord(p.key)],
    networks: ['sip', 'xmpp', 'matrix', 'mailbox'],
    accreditation: {
      notBefore: new Date(now.getTime() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
    status: 'active',
  };
}

export function trustList(
  directories: ReadonlyArray<DirectoryEntry>,
  providers: ReadonlyArray<ProviderEntry>,
  now: Date,
  validDays = 90,
): VerifiedTrustList {
  return createDevelopmentTrustList({ now, validDays, directories, providers }).verified;
}

/** {@link trustList}, also written as a signed file at `path` (as providers read it). */
export async function writeTrustList(
  path: string,
  directories: ReadonlyArray<DirectoryEntry>,
  providers: ReadonlyArray<ProviderEntry>,
  now: Date,
  devBoard?: DevelopmentBoard,
): Promise<VerifiedTrustList> {
  const created = createDevelopmentTrustList({
    now,
    validDays: 90,
    directories,
    providers,
    ...(devBoard ? { devBoard } : {}),
  });
  await writeFile(path, JSON.stringify(created.envelope));
  return created.verified;
}
