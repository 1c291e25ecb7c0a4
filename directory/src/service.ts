import { join } from 'node:path';
import {
  upsertDevelopmentEntries,
  ensureDevelopmentTrustList,
  TrustListSource,
} from '@switchboard/charter/node';
import type { DnskeyData } from '@switchboard/dns-wire';
import type { SigningAlgorithm } from '@switchboard/dnssec';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import { createLogger } from '@switchboard/service-kit';
import type { DirectoryConfig } from './config.js';
import { DirectoryConfigError, directoryConfigFromEnv } from './config.js';
import type { DirectoryOptions, RunningDirectory } from './directory.js';
import { startDirectory } from './directory.js';
import type { ProviderKeyResolver } from './publish/providers.js';
import { FileProviderKeys } from './publish/providers-file.js';
import { TrustListProviderKeys } from './publish/trust-list-providers.js';
import { loadOperatorKeys } from './zone/keys.js';

/** The directory as a runnable part, with what later parts may want to know. */
export interface DirectoryService extends RunningService {
  readonly publishUrl: string;
  /** `http://host:port/metrics`: Prometheus metrics, on a listener of their own. */
  readonly metricsUrl: string;
  /** `http://host:port/dns-query`: DNS over HTTPS (RFC 8484), plain HTTP for a TLS proxy. */
  readonly dohUrl: string;
  readonly dnsAddress: { readonly host: string; readonly port: number };
  readonly apex: string;
  readonly dsRecord: string;
  readonly trustAnchor: string;
}

/**
 * Starts the directory for `npm start`: DNS on 127.0.0.1:5300 (UDP+TCP) and the publish API on
 * 127.0.0.1:8053 by default (`/metrics` on 127.0.0.1:9053, `DIRECTORY_METRICS_HOST`/`_PORT`); creates the zone key and database under `<dataDir>/directory/` on
 * first run and prints where it listens and the DS record for the trust list.
 *
 * Providers are judged by the charter trust list: `SWITCHBOARD_TRUST_LIST` (a file) pinned by
 * `SWITCHBOARD_BOARD_FINGERPRINT`; without them (embedded stack) the development list under
 * `<dataDir>/charter/`, in which the directory registers itself (apex, DS/DNSKEY, addresses).
 * `DIRECTORY_PROVIDERS_FILE` replaces the trust list by a plain key file (development only).
 */
export async function startService(ctx: ServiceContext): Promise<DirectoryService> {
  const config = directoryConfigFromEnv(ctx.dataDir, ctx.env);
  const logger = createLogger({ service: 'directory', level: config.logLevel });
  const devDir = join(ctx.dataDir, 'charter');
  const now = new Date();
  const directory = await startDirectory({
    ...directoryOptions(config),
    operatorKeys: await operatorKeys(config.operatorKeyFiles, config.apex, config.algorithm),
    providers: await providerKeys(config, devDir, now),
    logger,
  });
  try {
    if (config.developmentTrustList)
      await registerInDevelopmentList(directory, config, devDir, now);
  } catch (err) {
    await directory.stop();
    throw err;
  }
  return describe(directory, config);
}

type ConfigOptions = Omit<DirectoryOptions, 'operatorKeys' | 'providers' | 'logger'>;

/** The parts of {@link DirectoryOptions} the config gives as they are. */
function directoryOptions(config: DirectoryConfig): ConfigOptions {
  return {
    dataDir: config.dataDir,
    apex: config.apex,
    algorithm: config.algorithm,
    databaseUrl: config.databaseUrl,
    dnsHost: config.dnsHost,
    dnsPort: config.dnsPort,
    apiHost: config.apiHost,
    apiPort: config.apiPort,
    metricsHost: config.metricsHost,
    metricsPort: config.metricsPort,
    dohHost: config.dohHost,
    dohPort: config.dohPort,
    nameServers: config.nameServers,
    secondaries: config.secondaries,
    ...(config.tsigKey ? { tsigKey: config.tsigKey } : {}),
    transferAllowFrom: config.transferAllowFrom,
    transferForm: config.transferForm,
    rrl: config.rrl,
    signingBudget: config.signingBudget,
    ...(config.cookieSecrets ? { cookieSecrets: config.cookieSecrets } : {}),
    dnsTcp: config.tcp,
    answerCacheBytes: config.answerCacheBytes,
  };
}

/** The resolver of providers' keys the config names (creating the development list if needed). */
async function providerKeys(
  config: DirectoryConfig,
  devDir: string,
  now: Date,
): Promise<ProviderKeyResolver> {
  const source = config.providers;
  if (source.kind === 'file') return new FileProviderKeys(source.path);
  if (source.kind === 'trust-list') {
    return new TrustListProviderKeys(
      new TrustListSource({
        path: source.path,
        boardFingerprint: source.boardFingerprint,
        stateFile: join(config.dataDir, 'trust-list-state.json'),
      }),
    );
  }
  const dev = await ensureDevelopmentTrustList({ dir: devDir, now });
  return new TrustListProviderKeys(
    new TrustListSource({ path: dev.listPath, boardKeys: dev.devBoard.board }),
  );
}

function dnsText(directory: RunningDirectory): string {
  const { host, port } = directory.dns;
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Registers this directory (apex, DS/DNSKEY, addresses) in the development trust list. */
async function registerInDevelopmentList(
  directory: RunningDirectory,
  config: DirectoryConfig,
  devDir: string,
  now: Date,
): Promise<void> {
  const { key, ds } = directory.keys;
  await upsertDevelopmentEntries(
    { dir: devDir, now },
    {
      directories: [
        {
          id: config.directoryId,
          operator: 'Switchboard development directory',
          apex: config.apex,
          trustAnchors: [
            {
              type: 'DS',
              keyTag: ds.keyTag,
              algorithm: ds.algorithm,
              digestType: ds.digestType,
              digest: Buffer.from(ds.digest).toString('hex').toUpperCase(),
            },
            {
              type: 'DNSKEY',
              flags: key.dnskey.flags,
              protocol: 3,
              algorithm: key.dnskey.algorithm,
              publicKey: Buffer.from(key.dnskey.publicKey).toString('base64'),
            },
          ],
          nameservers: [dnsText(directory)],
          publishEndpoint: directory.apiUrl,
          status: 'active',
        },
      ],
    },
  );
}

function describe(directory: RunningDirectory, config: DirectoryConfig): DirectoryService {
  const { host, port } = directory.dns;
  return {
    name: 'directory',
    listening: [
      `DNS udp+tcp ${dnsText(directory)} (zone ${config.apex}${directory.keys.created ? ', new key' : ''})`,
      `publish API ${directory.apiUrl}`,
      `DS ${directory.dsRecord.replace(/\s+/g, ' ')}`,
      `metrics ${directory.metricsUrl}`,
      `DNS over HTTPS ${directory.dohUrl}`,
    ],
    publishUrl: directory.apiUrl,
    metricsUrl: directory.metricsUrl,
    dohUrl: directory.dohUrl,
    dnsAddress: { host, port },
    apex: config.apex,
    dsRecord: directory.dsRecord,
    trustAnchor: directory.trustAnchor,
    stop: () => directory.stop(),
  };
}

async function operatorKeys(
  files: readonly string[],
  apex: string,
  algorithm: SigningAlgorithm,
): Promise<DnskeyData[]> {
  try {
    return await loadOperatorKeys(files, apex, algorithm);
  } catch (err) {
    throw new DirectoryConfigError(
      'DIRECTORY_OPERATOR_KEYS',
      `names keys that cannot be used: ${(err as Error).message}`,
    );
  }
}
