import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import { createLogger } from '@switchboard/service-kit';
import { directoryConfigFromEnv } from './config.js';
import { startDirectory } from './directory.js';
import { FileProviderKeys } from './providers-file.js';

/** The directory as a runnable part, with what later parts may want to know. */
export interface DirectoryService extends RunningService {
  readonly publishUrl: string;
  readonly dnsAddress: { readonly host: string; readonly port: number };
  readonly apex: string;
  readonly dsRecord: string;
  readonly trustAnchor: string;
}

/**
 * Starts the directory for `npm start`: DNS on 127.0.0.1:5300 (UDP+TCP) and the publish API on
 * 127.0.0.1:8053 by default; creates the zone key and database under `<dataDir>/directory/` on
 * first run and prints where it listens and the DS record for the trust list.
 */
export async function startService(ctx: ServiceContext): Promise<DirectoryService> {
  const config = directoryConfigFromEnv(ctx.dataDir, ctx.env);
  const logger = createLogger({ service: 'directory', level: config.logLevel });
  const directory = await startDirectory({
    dataDir: config.dataDir,
    apex: config.apex,
    algorithm: config.algorithm,
    databaseUrl: config.databaseUrl,
    dnsHost: config.dnsHost,
    dnsPort: config.dnsPort,
    apiHost: config.apiHost,
    apiPort: config.apiPort,
    nameServers: config.nameServers,
    secondaries: config.secondaries,
    ...(config.tsigKey ? { tsigKey: config.tsigKey } : {}),
    transferAllowFrom: config.transferAllowFrom,
    rrl: config.rrl,
    providers: new FileProviderKeys(config.providersFile),
    logger,
  });
  const { host, port } = directory.dns;
  return {
    name: 'directory',
    listening: [
      `DNS udp+tcp ${host.includes(':') ? `[${host}]` : host}:${port} (zone ${config.apex}${directory.keys.created ? ', new key' : ''})`,
      `publish API ${directory.apiUrl}`,
      `DS ${directory.dsRecord}`,
    ],
    publishUrl: directory.apiUrl,
    dnsAddress: { host, port },
    apex: config.apex,
    dsRecord: directory.dsRecord,
    trustAnchor: directory.trustAnchor,
    stop: () => directory.stop(),
  };
}
