// Child process for the directory benchmark: seeds a fresh SQLite database with the benchmark
// numbers (bulk insert, not measured) and runs the directory exactly as `npm start` does
// (`directory/dist/src/service.js`), with RRL off. Stops on SIGTERM.
//   node bench/dist/src/cli/directory-server.js <workDir> <entries.json> <dnsPort> <apiPort>
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Kysely } from 'kysely';
import { openDatabase } from '@switchboard/db';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import type { BenchEntry } from '../zone-data.js';

const directoryDist = resolve(import.meta.dirname, '../../../../directory/dist/src');

interface StoreModule {
  DirectoryStore: { open(db: unknown): Promise<unknown> };
}
interface ServiceModule {
  startService(ctx: ServiceContext): Promise<RunningService>;
}

async function seed(databaseUrl: string, entries: readonly BenchEntry[]): Promise<void> {
  const { DirectoryStore } = (await import(
    pathToFileURL(join(directoryDist, 'state', 'store.js')).href
  )) as StoreModule;
  const database = await openDatabase<Record<string, never>>({ url: databaseUrl });
  try {
    await DirectoryStore.open(database); // runs the directory's migrations
    // The directory's own tables (directory/src/state/store.ts); the zone serial 2 names this content.
    const db = database.db as unknown as Kysely<{
      directory_numbers: {
        number: string;
        provider: string;
        identity_key: string;
        contacts: string;
        serial: number;
        updated_at: number;
      };
      directory_zone: { id: number; serial: number };
    }>;
    const now = Math.floor(Date.now() / 1000);
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < entries.length; i += 500) {
        await tx
          .insertInto('directory_numbers')
          .values(
            entries.slice(i, i + 500).map((e) => ({
              number: e.number,
              provider: e.provider,
              identity_key: e.identityKey,
              contacts: JSON.stringify(e.contacts),
              serial: 2,
              updated_at: now,
            })),
          )
          .execute();
      }
      await tx.updateTable('directory_zone').set({ serial: 2 }).where('id', '=', 1).execute();
    });
  } finally {
    await database.close();
  }
}

async function main(): Promise<void> {
  const [workDir, entriesFile, dnsPort, apiPort] = process.argv.slice(2);
  if (!workDir || !entriesFile || !dnsPort || !apiPort) {
    console.error('usage: directory-server <workDir> <entries.json> <dnsPort> <apiPort>');
    process.exit(2);
  }
  const entries = JSON.parse(readFileSync(entriesFile, 'utf8')) as BenchEntry[];
  const databaseUrl = `sqlite:${join(workDir, 'directory.db')}`;
  const seeded = performance.now();
  await seed(databaseUrl, entries);
  console.error(`seeded ${entries.length} numbers in ${Math.round(performance.now() - seeded)} ms`);
  writeFileSync(join(workDir, 'providers.json'), '{}\n');
  const { startService } = (await import(
    pathToFileURL(join(directoryDist, 'service.js')).href
  )) as ServiceModule;
  const started = performance.now();
  const service = await startService({
    dataDir: workDir,
    env: {
      DIRECTORY_DNS_HOST: '127.0.0.1',
      DIRECTORY_DNS_PORT: dnsPort,
      DIRECTORY_API_HOST: '127.0.0.1',
      DIRECTORY_API_PORT: apiPort,
      // Not scraped here; any free port rather than the fixed default.
      DIRECTORY_METRICS_PORT: '0',
      DIRECTORY_DATABASE_URL: databaseUrl,
      DIRECTORY_PROVIDERS_FILE: join(workDir, 'providers.json'),
      DIRECTORY_RRL_RATE: '0',
      // dnsperf asks from one address: measured is the signing, not the limits in front of it.
      DIRECTORY_RRL_SIGN_RATE: '0',
      DIRECTORY_LOG_LEVEL: 'warn',
    },
    started: [],
  });
  console.error(
    `directory started in ${Math.round(performance.now() - started)} ms: ${service.listening.join('; ')}`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`directory-server: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
