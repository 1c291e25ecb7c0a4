import { join } from 'node:path';
import { openDatabase } from '@switchboard/db';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import { createLogger } from '@switchboard/service-kit';
import { SwitchboardBridge } from './bridge.js';
import { loadBridgeConfig, parseBridgeConfig } from './config.js';
import type { BridgeConfig } from './config.js';
import { directoryResolver } from './routing/directory-resolver.js';
import { NO_DIRECTORY } from './routing/routing.js';

/**
 * Starts the bridge for `npm start`. The bridge runs only when configured: the environment
 * names a JSON config file in `SWITCHBOARD_BRIDGE_CONFIG` (the embedded default has none, so
 * this returns null). Its database defaults to `sqlite:<dataDir>/bridge.db`; its
 * application-service endpoint and `/health` listen on 127.0.0.1:9000, `/metrics` on
 * 127.0.0.1:9001 (`metrics` in the config), unless the config says otherwise.
 */
export async function startService(ctx: ServiceContext): Promise<RunningService | null> {
  const path = ctx.env['SWITCHBOARD_BRIDGE_CONFIG'];
  if (!path) return null;
  const config = withDefaultDatabase(loadBridgeConfig(path), ctx.dataDir);
  const logger = createLogger({ service: 'bridge', level: ctx.env['LOG_LEVEL'] ?? 'info' });
  const database = await openDatabase<unknown>({ url: config.databaseUrl });
  try {
    const resolver = config.directory ? directoryResolver(config.directory) : NO_DIRECTORY;
    const bridge = await SwitchboardBridge.create(config, { database, resolver, logger });
    await bridge.start();
    const networks = [config.matrix && 'matrix', config.xmpp && 'xmpp', config.sip && 'sip'].filter(
      Boolean,
    );
    let stopping: Promise<void> | undefined;
    return {
      name: 'bridge',
      listening: [
        `application service, /health ${bridge.httpUrl}`,
        `metrics ${bridge.metricsUrl}`,
        `networks: ${networks.join(', ') || 'none'}${config.plaintextRelay ? ' (plaintext relay ON, marked end-to-bridge)' : ''}`,
      ],
      stop: () =>
        (stopping ??= (async () => {
          await bridge.stop();
          await database.close();
        })()),
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}

function withDefaultDatabase(config: BridgeConfig, dataDir: string): BridgeConfig {
  return config.databaseUrl === 'default'
    ? parseBridgeConfig({ ...config, databaseUrl: `sqlite:${join(dataDir, 'bridge.db')}` })
    : config;
}
