// Child of `bench-moves.js directory`: one build's directory, as `npm start` runs it (RRL off),
// on an SQLite store seeded once with the bench numbers (rows inserted after the build's own
// migrations, as the directory bench of that time did). Stops on SIGTERM.
//   node directory-child.js <buildRoot> <workDir> <entries.jsonl> <dnsPort> <apiPort>
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [buildRoot, workDir, entriesFile, dnsPort, apiPort] = process.argv.slice(2);
const dist = join(buildRoot, 'directory', 'dist', 'src');
const load = (...p) => import(pathToFileURL(join(...p)).href);

async function seed(databaseUrl) {
  const { openDatabase } = await load(buildRoot, 'packages/db/dist/src/index.js');
  const storePath = existsSync(join(dist, 'state', 'store.js'))
    ? join(dist, 'state', 'store.js') // after the move (6fead15)
    : join(dist, 'store.js');
  const { DirectoryStore } = await load(storePath);
  const database = await openDatabase({ url: databaseUrl });
  try {
    await DirectoryStore.open(database); // the build's own migrations
    const now = Math.floor(Date.now() / 1000);
    const lines = readFileSync(entriesFile, 'utf8').split('\n').filter(Boolean);
    const rows = lines.map((line) => {
      const e = JSON.parse(line);
      const contacts = JSON.stringify(e.contacts);
      return { number: e.number, provider: e.provider, identity_key: e.identityKey, contacts };
    });
    await database.db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += 500) {
        const batch = rows.slice(i, i + 500).map((r) => ({ ...r, serial: 2, updated_at: now }));
        await tx.insertInto('directory_numbers').values(batch).execute();
      }
      await tx.updateTable('directory_zone').set({ serial: 2 }).where('id', '=', 1).execute();
    });
    return rows.length;
  } finally {
    await database.close();
  }
}

async function main() {
  const databaseUrl = `sqlite:${join(workDir, 'directory.db')}`;
  if (!existsSync(join(workDir, 'seeded'))) {
    const n = await seed(databaseUrl);
    writeFileSync(join(workDir, 'seeded'), `${n}\n`);
    writeFileSync(join(workDir, 'providers.json'), '{}\n');
  }
  const { startService } = await load(dist, 'service.js');
  const service = await startService({
    dataDir: workDir,
    env: {
      DIRECTORY_DNS_HOST: '127.0.0.1',
      DIRECTORY_DNS_PORT: dnsPort,
      DIRECTORY_API_HOST: '127.0.0.1',
      DIRECTORY_API_PORT: apiPort,
      DIRECTORY_METRICS_PORT: '0',
      DIRECTORY_DOH_PORT: '0',
      DIRECTORY_DATABASE_URL: databaseUrl,
      DIRECTORY_PROVIDERS_FILE: join(workDir, 'providers.json'),
      DIRECTORY_RRL_RATE: '0',
      DIRECTORY_RRL_SIGN_RATE: '0',
      DIRECTORY_LOG_LEVEL: 'warn',
    },
    started: [],
  });
  console.error(`directory started: ${service.listening.join('; ')}`);
  process.on('SIGTERM', () => service.stop().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(`directory-child: ${err.stack ?? String(err)}`);
  process.exit(1);
});
