// Child process for the directory benchmark: seeds a fresh SQLite database with the benchmark
// numbers (the directory's JSON Lines bulk import, timed but not part of start-up) and runs the directory exactly as `npm start` does
// (`directory/dist/src/service.js`), with RRL off. Stops on SIGTERM.
//   node bench/dist/src/children/directory-server.js <workDir> <entries.jsonl> <dnsPort> <apiPort>
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '@switchboard/db';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';

const directoryDist = resolve(import.meta.dirname, '../../../../directory/dist/src');

interface StoreModule {
  DirectoryStore: { open(db: unknown): Promise<unknown> };
}
interface BulkImportModule {
  bulkImport(
    store: unknown,
    options: { file: string; refusedFile: string; now: number; restart?: boolean },
  ): Promise<{ imported: number; refused: number }>;
}
interface ServiceModule {
  startService(ctx: ServiceContext): Promise<RunningService>;
}

const load = async <T>(...path: string[]): Promise<T> =>
  (await import(pathToFileURL(join(directoryDist, ...path)).href)) as T;

/** Seeds the database through the directory's own bulk import (streamed, validated per line). */
async function seed(databaseUrl: string, importFile: string, workDir: string): Promise<number> {
  const { DirectoryStore } = await load<StoreModule>('state', 'store.js');
  const { bulkImport } = await load<BulkImportModule>('state', 'bulk-import.js');
  const database = await openDatabase<Record<string, never>>({ url: databaseUrl });
  try {
    const store = await DirectoryStore.open(database); // runs the directory's migrations
    const report = await bulkImport(store, {
      file: importFile,
      refusedFile: join(workDir, 'import-refused.jsonl'),
      now: Math.floor(Date.now() / 1000),
      restart: true,
    });
    if (report.refused > 0) throw new Error(`the import refused ${report.refused} lines`);
    return report.imported;
  } finally {
    await database.close();
  }
}

async function main(): Promise<void> {
  const [workDir, importFile, dnsPort, apiPort] = process.argv.slice(2);
  if (!workDir || !importFile || !dnsPort || !apiPort) {
    console.error('usage: directory-server <workDir> <entries.jsonl> <dnsPort> <apiPort>');
    process.exit(2);
  }
  const databaseUrl = `sqlite:${join(workDir, 'directory.db')}`;
  const seeded = performance.now();
  const imported = await seed(databaseUrl, importFile, workDir);
  console.error(`imported ${imported} numbers in ${Math.round(performance.now() - seeded)} ms`);
  // The bench counts start-up from here (peers/directory.ts).
  writeFileSync(join(workDir, 'seeded'), `${imported}\n`);
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
      // Not scraped here (nor DoH asked); any free port rather than the fixed defaults, which
      // another directory on the machine may hold.
      DIRECTORY_METRICS_PORT: '0',
      DIRECTORY_DOH_PORT: '0',
      DIRECTORY_DATABASE_URL: databaseUrl,
      DIRECTORY_PROVIDERS_FILE: join(workDir, 'providers.json'),
      DIRECTORY_RRL_RATE: '0',
      // dnsperf asks from one address: measured is the signing, not the limits in front of it.
      DIRECTORY_RRL_SIGN_RATE: '0',
      DIRECTORY_LOG_LEVEL: 'warn',
      // An operator's answer cache size, when the bench is run with one (else the default).
      ...answerCacheSetting(),
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

/** `DIRECTORY_ANSWER_CACHE_MB` from the bench's environment, if set. */
function answerCacheSetting(): Record<string, string> {
  const mb = process.env['DIRECTORY_ANSWER_CACHE_MB'];
  return mb === undefined ? {} : { DIRECTORY_ANSWER_CACHE_MB: mb };
}
