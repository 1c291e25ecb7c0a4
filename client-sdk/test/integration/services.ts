// Starts the real provider API through its `startService` entry (the one `npm start` uses),
// configured through its environment: port 0, its own SQLite file, a pre-made accredited key,
// codes delivered to an in-test webhook, publishing to the test directory.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  boardFingerprint,
  createDevelopmentBoard,
  generateEd25519KeyPair,
} from '@switchboard/charter';
import { writePrivateKeyFile } from '@switchboard/charter/node';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import type { TestDirectory, TestProvider } from './fixtures.js';
import { directoryEntry, providerEntry, startTestDirectory, writeTrustList } from './fixtures.js';

type StartService = (ctx: ServiceContext) => Promise<RunningService | null>;

/** Receives verification codes the way an SMS gateway would (provider's webhook sender). */
export class CodeInbox {
  readonly #codes = new Map<string, string>();
  readonly #waiters = new Map<string, (code: string) => void>();
  readonly #server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { to, code } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        to: string;
        code: string;
      };
      this.#codes.set(to, code);
      this.#waiters.get(to)?.(code);
      res.writeHead(204).end();
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/codes`;
  }

  /** The code most recently sent to `number` (waits for it). */
  codeFor(number: string): Promise<string> {
    const code = this.#codes.get(number);
    if (code) {
      this.#codes.delete(number);
      return Promise.resolve(code);
    }
    return new Promise((resolve) =>
      this.#waiters.set(number, (c) => {
        this.#codes.delete(number);
        resolve(c);
      }),
    );
  }

  stop(): Promise<void> {
    return new Promise((r) => this.#server.close(() => r()));
  }
}

export interface RunningProvider {
  readonly provider: TestProvider;
  readonly url: string;
  stop(): Promise<void>;
}

/** The provider's accredited key must exist before the directory starts (it pins it). */
export async function prepareProvider(
  id: string,
): Promise<{ provider: TestProvider; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), `sb-sdk-${id}-`));
  const key = generateEd25519KeyPair();
  await mkdir(join(dataDir, 'provider-api'), { recursive: true, mode: 0o700 });
  await writePrivateKeyFile(join(dataDir, 'provider-api', 'provider-key.json'), {
    ...key,
    name: id,
  });
  return { provider: { id, key, apiBaseUrl: '' }, dataDir };
}

export async function startProvider(
  prepared: { provider: TestProvider; dataDir: string },
  directoryApiUrl: string,
  codeWebhook: string,
  /** Where the trust list will be (read when needed, so it may be written after the start). */
  trustListPath = 'managed-by-test',
  /** The board that will sign it (the provider pins it and refuses lists signed by others). */
  boardFingerprint = 'managed-by-test',
): Promise<RunningProvider> {
  const entry = new URL('../../../../provider-api/dist/src/service.js', import.meta.url);
  const { startService } = (await import(entry.href)) as { startService: StartService };
  const service = await startService({
    dataDir: prepared.dataDir,
    env: {
      PROVIDER_API_HOST: '127.0.0.1',
      PROVIDER_API_PORT: '0',
      PROVIDER_ID: prepared.provider.id,
      SWITCHBOARD_DIRECTORY_URL: directoryApiUrl,
      // The test's trust list, not the embedded development one: other providers' keys (sender
      // certificates, releases) come from it, verified against the pinned board.
      SWITCHBOARD_TRUST_LIST: trustListPath,
      SWITCHBOARD_BOARD_FINGERPRINT: boardFingerprint,
      PROVIDER_CODE_WEBHOOK_URL: codeWebhook,
      PROVIDER_VALIDATE_RESPONSES: '1',
      LOG_LEVEL: 'silent',
    },
    started: [],
  });
  if (!service) throw new Error('provider-api did not start');
  const url = /HTTP (http:\/\/[^\s]+)/.exec(service.listening[0] ?? '')?.[1];
  if (!url) throw new Error('provider-api did not say where it listens');
  prepared.provider.apiBaseUrl = url;
  return {
    provider: prepared.provider,
    url,
    async stop() {
      await service.stop();
      await rm(prepared.dataDir, { recursive: true, force: true });
    },
  };
}

/** What {@link startSignedStack} started. */
export interface SignedStack {
  readonly dir: TestDirectory;
  readonly provider: RunningProvider;
  /** The provider's data folder (its first operator key: `provider-api/operator-api-key`). */
  readonly providerDataDir: string;
  /** For the `switchboard` CLI: the same trust list and pinned board. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The real directory and provider API, and a trust list in `work` signed by a development board
 * that names both (written once the provider knows its URL; the provider pins the board and
 * reads the list when it needs it).
 */
export async function startSignedStack(options: {
  readonly work: string;
  readonly providerId: string;
  readonly codeWebhook: string;
  /** The directory's nameservers in the list; default its one server. */
  readonly nameservers?: (dir: TestDirectory) => string[];
}): Promise<SignedStack> {
  const prepared = await prepareProvider(options.providerId);
  const dir = await startTestDirectory([prepared.provider]);
  try {
    const listPath = join(options.work, 'trust-list.json');
    const board = createDevelopmentBoard();
    const pinned = boardFingerprint(board.board);
    const { apiUrl } = dir.directory;
    const provider = await startProvider(prepared, apiUrl, options.codeWebhook, listPath, pinned);
    const now = new Date();
    const entry = directoryEntry(
      dir,
      options.nameservers ? { nameservers: options.nameservers(dir) } : {},
    );
    await writeTrustList(listPath, [entry], [providerEntry(provider.provider, now)], now, board);
    const env = {
      PATH: process.env['PATH'] ?? '',
      SWITCHBOARD_TRUST_LIST: listPath,
      SWITCHBOARD_BOARD_FINGERPRINT: pinned,
    };
    return { dir, provider, providerDataDir: prepared.dataDir, env };
  } catch (err) {
    await dir.stop();
    throw err;
  }
}
