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
import { DirectoryConfigError, directoryConfigFromEnv } from './config.js';
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
  const env = ctx.env;
  const config = directoryConfigFromEnv(ctx.dataDir, env);
  const logger = createLogger({ service: 'directory', level: config.logLevel });
  const now = new Date();
  const listPath = env['SWITCHBOARD_TRUST_LIST'];
  const devDir = join(ctx.dataDir, 'charter');
  let providers: ProviderKeyResolver;
  if (env['DIRECTORY_PROVIDERS_FILE'] !== undefined) {
    providers = new FileProviderKeys(config.providersFile);
  } else if (listPath !== undefined) {
    const fingerprint = env['SWITCHBOARD_BOARD_FINGERPRINT'];
    if (!fingerprint) {
      throw new DirectoryConfigError(
        'SWITCHBOARD_TRUST_LIST needs SWITCHBOARD_BOARD_FINGERPRINT (the pinned board fingerprint)',
      );
    }
    providers = new TrustListProviderKeys(
      new TrustListSource({
        path: listPath,
        boardFingerprint: fingerprint,
        stateFile: join(config.dataDir, 'trust-list-state.json'),
      }),
    );
  } else {
    const dev = await ensureDevelopmentTrustList({ dir: devDir, now });
    providers = new TrustListProviderKeys(
      new TrustListSource({ path: dev.listPath, boardKeys: dev.devBoard.board }),
    );
  }
  const directory = await startDirectory({
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
    operatorKeys: await operatorKeys(config.operatorKeyFiles, config.apex, config.algorithm),
    rrl: config.rrl,
    signingBudget: config.signingBudget,
    ...(config.cookieSecrets ? { cookieSecrets: config.cookieSecrets } : {}),
    dnsTcp: config.tcp,
    providers,
    logger,
  });
  const { host, port } = directory.dns;
  const dnsText = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    if (listPath === undefined) {
      const { key, ds } = directory.keys;
      await upsertDevelopmentEntries(
        { dir: devDir, now },
        {
          directories: [
            {
              id: env['DIRECTORY_ID'] ?? 'dev-directory',
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
              nameservers: [dnsText],
              publishEndpoint: directory.apiUrl,
              status: 'active',
            },
          ],
        },
      );
    }
  } catch (err) {
    await directory.stop();
    throw err;
  }
  return {
    name: 'directory',
    listening: [
      `DNS udp+tcp ${dnsText} (zone ${config.apex}${directory.keys.created ? ', new key' : ''})`,
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
    throw new DirectoryConfigError(`DIRECTORY_OPERATOR_KEYS: ${(err as Error).message}`);
  }
}
