// The bridge for the bridge benchmark, in a process of its own (so it can be pinned and its CPU
// counted): `node bridge-server.js <config JSON> <SQLite path>`. Loads the built bridge from
// bridge/dist/src, prints `ready` once every configured network is up, stops on SIGTERM.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '@switchboard/db';
import { createLogger } from '@switchboard/service-kit';

interface Bridge {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly xmpp?: { isUp(): boolean };
  readonly sip?: { isUp(): boolean };
  readonly matrix?: { isUp(): boolean };
}

const root = resolve(import.meta.dirname, '../../../..');
const load = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(resolve(root, 'bridge/dist/src', file)).href)) as T;

async function main(): Promise<void> {
  const [configJson, dbPath] = process.argv.slice(2);
  if (!configJson || !dbPath) throw new Error('usage: bridge-server <config JSON> <db path>');
  const { SwitchboardBridge } = await load<{
    SwitchboardBridge: { create(config: unknown, deps: unknown): Promise<Bridge> };
  }>('bridge.js');
  const { parseBridgeConfig } = await load<{ parseBridgeConfig(raw: unknown): unknown }>(
    'config.js',
  );
  const { NO_DIRECTORY } = await load<{ NO_DIRECTORY: unknown }>('routing/routing.js');
  const database = await openDatabase<unknown>({ url: `sqlite:${dbPath}` });
  const bridge = await SwitchboardBridge.create(parseBridgeConfig(JSON.parse(configJson)), {
    database,
    resolver: NO_DIRECTORY,
    logger: createLogger({ service: 'bridge-bench', level: process.env['SB_BENCH_LOG'] ?? 'warn' }),
  });
  process.once('SIGTERM', () => {
    void bridge
      .stop()
      .then(() => database.close())
      .then(() => process.exit(0));
  });
  await bridge.start();
  const timer = setInterval(() => {
    const up = [bridge.xmpp, bridge.sip, bridge.matrix].every((n) => n?.isUp() ?? true);
    if (up) {
      clearInterval(timer);
      process.stdout.write('ready\n');
    }
  }, 50);
}

main().catch((err: unknown) => {
  process.stderr.write(`bridge-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
