/**
 * A bridge in its own process, so tests can SIGTERM or SIGKILL it: `node bridge-process.js
 * <config JSON> <SQLite path>`. Prints `ready` once every configured network is up; on
 * SIGTERM stops the bridge and exits 0.
 */
import { fileDatabase, makeBridge } from './bridge.js';

async function main(): Promise<void> {
  const [configJson, dbPath] = process.argv.slice(2);
  if (!configJson || !dbPath) throw new Error('usage: bridge-process <config JSON> <db path>');
  const database = await fileDatabase(dbPath);
  const bridge = await makeBridge(JSON.parse(configJson) as Record<string, unknown>, database);
  process.once('SIGTERM', () => {
    void bridge
      .stop()
      .then(() => database.close())
      .then(() => process.exit(0));
  });
  await bridge.start();
  const timer = setInterval(() => {
    if ((bridge.xmpp?.isUp() ?? true) && (bridge.sip?.isUp() ?? true)) {
      clearInterval(timer);
      process.stdout.write('ready\n');
    }
  }, 50);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
