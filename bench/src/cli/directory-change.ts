// Start-up and one change at scale (issue 15), measured in one process on the directory's own
// zone state: seeds an SQLite store with `--count` bench numbers (the directory's bulk import),
// loads the zone (a first start: the zone image filled from the store), answers a number, then
// publishes `--changes` new numbers one at a time and times each until the next answer shows it,
// with the event loop's longest delay while the change is applied (perf_hooks, 1 ms resolution)
// against the same window with nothing to do. Loads directory/dist at run time.
// The seeding runs in a child process of its own, so the RSS reported is the zone's alone. Last,
// the zone is loaded again on the same store and image, as a restart does (`restartFirstAnswerMs`).
// `--work <dir>` keeps the store there (seeded once, reused by later runs). `--postgres URL`: the
// store in that PostgreSQL database instead (schema `bench_change_<count>`, kept and reused with
// `--work`), which a first start copies into the image page by page.
//   npm run bench:directory-change -w bench -- [--count 100000] [--changes 20] [--work dir]
//     [--postgres URL] [--no-save]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '@switchboard/db';
import { encodeQuery, RRType } from '@switchboard/dns-wire';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import type { SigningKey } from '@switchboard/dnssec';
import { writeResultJson } from '../report/report.js';
import {
  benchSpace,
  type BenchSpace,
  enumName,
  importLines,
  missingNumber,
  numberAt,
  writeLines,
} from '../fixtures/zone-data.js';

const directoryDist = resolve(import.meta.dirname, '../../../../directory/dist/src');
const load = async <T>(...path: string[]): Promise<T> =>
  (await import(pathToFileURL(join(directoryDist, ...path)).href)) as T;

interface Store {
  put(entry: unknown, expectProvider: string | undefined, now: number): Promise<unknown>;
}
interface Zone {
  readonly snapshot: unknown;
  readonly signer: unknown;
  refresh(): Promise<void>;
  close(): Promise<void>;
}
interface Modules {
  store: { DirectoryStore: { open(db: unknown): Promise<Store> } };
  bulk: {
    bulkImport(
      store: Store,
      o: { file: string; refusedFile: string; now: number },
    ): Promise<{ imported: number; refused: number }>;
  };
  state: {
    ZoneState: {
      load(
        store: Store,
        settings: unknown,
        key: SigningKey,
        signer: unknown,
        o: { imagePath: string; storeFile?: string },
      ): Promise<Zone>;
    };
  };
  signer: { OnlineSigner: new (key: SigningKey, apex: string) => unknown };
  zone: { defaultZoneSettings(apex: string): unknown };
  fast: {
    fastInfo(): { kind: string };
    fastReply(
      p: Uint8Array,
      t: 'udp',
      zone: unknown,
      signer: unknown,
      now: number,
      info: { kind: string },
    ): Uint8Array | undefined;
  };
}

interface Args {
  count: number;
  changes: number;
  save: boolean;
  /** Internal: only seed the store in this directory (the child process). */
  seedOnly: string | undefined;
  /** Where the store is kept (seeded if not yet); default a temp dir removed at the end. */
  work: string | undefined;
  /** A PostgreSQL database to keep the store in instead of an SQLite file. */
  postgres: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    count: 100_000,
    changes: 20,
    save: true,
    seedOnly: undefined,
    work: undefined,
    postgres: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-save') args.save = false;
    else if (a === '--seed-only') args.seedOnly = argv[++i];
    else if (a === '--work') args.work = argv[++i];
    else if (a === '--postgres') args.postgres = argv[++i];
    else if (a === '--count' || a === '--changes') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 10_000_000) throw new Error(`${a}: 1..10000000`);
      args[a === '--count' ? 'count' : 'changes'] = n;
    } else throw new Error(`unknown option ${a}`);
  }
  if (args.postgres !== undefined && args.work === undefined && args.seedOnly === undefined) {
    throw new Error('--postgres needs --work (the schema is kept for later runs, as the dir is)');
  }
  return args;
}

/** What a NAPTR query with DO for `name` gets on the fast path: answer, nodata, nxname or none. */
function ask(m: Modules, zone: Zone, name: string): string {
  const packet = encodeQuery(1, name, RRType.NAPTR);
  const info = m.fast.fastInfo();
  const now = Math.floor(Date.now() / 1000);
  return m.fast.fastReply(packet, 'udp', zone.snapshot, zone.signer, now, info)
    ? info.kind
    : 'none';
}

/** The event loop's longest delay (ms) while `work` runs and 20 ms after. */
async function longestDelay(work: () => Promise<void>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await work();
  await new Promise((r) => setTimeout(r, 20));
  h.disable();
  return Math.round(h.max / 1e4) / 100;
}

/** The store's database: `work/directory.db`, or a schema of its own in `--postgres`. */
function storeDatabase(args: Args, work: string): Parameters<typeof openDatabase>[0] {
  return args.postgres === undefined
    ? { url: `sqlite:${join(work, 'directory.db')}` }
    : { url: args.postgres, schema: `bench_change_${args.count}` };
}

/** Seeds the store with the bench numbers through the directory's bulk import. */
async function seed(m: Modules, args: Args, work: string): Promise<void> {
  const { count } = args;
  const space = benchSpace({ count });
  const importFile = join(work, 'entries.jsonl');
  writeLines(importFile, importLines(space));
  const database = await openDatabase<unknown>(storeDatabase(args, work));
  try {
    const store = await m.store.DirectoryStore.open(database);
    const seeded = await m.bulk.bulkImport(store, {
      file: importFile,
      refusedFile: join(work, 'refused.jsonl'),
      now: Math.floor(Date.now() / 1000),
    });
    if (seeded.refused > 0) throw new Error(`the import refused ${seeded.refused} lines`);
    writeFileSync(join(work, 'seeded'), String(seeded.imported));
  } finally {
    await database.close();
  }
  rmSync(importFile);
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Seeds `work` in a child process unless it is seeded; the seconds that took, if it did. */
function ensureSeeded(args: Args, work: string): number | undefined {
  const t = performance.now();
  let seedSeconds: number | undefined;
  if (!existsSync(join(work, 'seeded'))) {
    const child = spawnSync(
      process.execPath,
      [
        process.argv[1] as string,
        '--seed-only',
        work,
        '--count',
        String(args.count),
        ...(args.postgres !== undefined ? ['--postgres', args.postgres] : []),
      ],
      { stdio: 'inherit' },
    );
    if (child.status !== 0) throw new Error(`seeding failed (${child.status ?? child.signal})`);
    seedSeconds = Math.round((performance.now() - t) / 100) / 10;
  }
  if (Number(readFileSync(join(work, 'seeded'), 'utf8')) !== args.count) {
    throw new Error(`${work} holds another count of numbers`);
  }
  // A first start each run: the image of an earlier run is removed.
  for (const f of ['zone-image.db', 'zone-image.db-wal', 'zone-image.db-shm']) {
    rmSync(join(work, f), { force: true });
  }
  if (seedSeconds !== undefined) console.log(`seeded ${args.count} numbers in ${seedSeconds} s`);
  return seedSeconds;
}

interface ChangeTimes {
  idleDelays: number[];
  changeDelays: number[];
  changeMs: number[];
}

/** Publishes `changes` new numbers one at a time, each timed until the next answer shows it. */
async function timeChanges(
  m: Modules,
  store: Store,
  zone: Zone,
  space: BenchSpace,
  apex: string,
  changes: number,
): Promise<ChangeTimes> {
  const idleDelays: number[] = [];
  const changeDelays: number[] = [];
  const changeMs: number[] = [];
  let next = 0;
  for (let i = 0; i < changes; i++) {
    idleDelays.push(await longestDelay(() => new Promise((r) => setTimeout(r, 5))));
    // Unpublished numbers (a store kept by --work holds those an earlier run published).
    let number = missingNumber(space, next++);
    while (ask(m, zone, enumName(number, apex)) === 'answer') number = missingNumber(space, next++);
    const name = enumName(number, apex);
    const entry = {
      number,
      provider: 'bench-provider',
      identityKey: 'BefI5EHtEQqM6EU41wHLF3LSIB1x9evxZT/QA/3AQ6gW',
      contacts: [{ service: 'sip', uri: `sip:c${i}@sip.example.net` }],
    };
    let took = 0;
    changeDelays.push(
      await longestDelay(async () => {
        const start = performance.now();
        await store.put(entry, undefined, Math.floor(Date.now() / 1000));
        await zone.refresh();
        if (ask(m, zone, name) !== 'answer') throw new Error('the change is not answered');
        took = performance.now() - start;
      }),
    );
    changeMs.push(Math.round(took * 10) / 10);
  }
  return { idleDelays, changeDelays, changeMs };
}

/** The change figures as reported: p50 and max of each. */
function changeSummary(count: number, times: ChangeTimes): object {
  const { idleDelays, changeDelays, changeMs } = times;
  return {
    count,
    servedMs: { p50: median(changeMs), max: Math.max(...changeMs) },
    longestLoopDelayMs: { p50: median(changeDelays), max: Math.max(...changeDelays) },
    idleLoopDelayMs: { p50: median(idleDelays), max: Math.max(...idleDelays) },
  };
}

async function loadModules(): Promise<Modules> {
  return {
    store: await load('state', 'store.js'),
    bulk: await load('state', 'bulk-import.js'),
    state: await load('state', 'zone-state.js'),
    signer: await load('zone', 'signer.js'),
    zone: await load('zone', 'zone.js'),
    fast: await load('dns', 'fast-path.js'),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const m = await loadModules();
  if (args.seedOnly !== undefined) return seed(m, args, args.seedOnly);
  const work = args.work ?? mkdtempSync(join(tmpdir(), 'sb-bench-change-'));
  mkdirSync(work, { recursive: true });
  const load0 = loadavg();
  try {
    const space = benchSpace({ count: args.count });
    const seedSeconds = ensureSeeded(args, work);
    const storeFile = args.postgres === undefined ? join(work, 'directory.db') : undefined;
    const database = await openDatabase<unknown>(storeDatabase(args, work));
    const store = await m.store.DirectoryStore.open(database);

    const apex = 'e164.switchboard.test.';
    const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
    let t = performance.now();
    const loadZone = (): Promise<Zone> =>
      m.state.ZoneState.load(
        store,
        m.zone.defaultZoneSettings(apex),
        key,
        new m.signer.OnlineSigner(key, apex),
        { imagePath: join(work, 'zone-image.db'), ...(storeFile ? { storeFile } : {}) },
      );
    const zone = await loadZone();
    const published = enumName(numberAt(space, 0), apex);
    if (ask(m, zone, published) !== 'answer') throw new Error('a published number is not answered');
    const firstAnswerMs = Math.round(performance.now() - t);
    const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    console.log(`first answer ${firstAnswerMs} ms after the zone began loading; RSS ${rssMb} MB`);

    const times = await timeChanges(m, store, zone, space, apex, args.changes);
    await zone.close();
    // A restart: the image is there, at the store's serial.
    t = performance.now();
    const again = await loadZone();
    if (ask(m, again, published) !== 'answer') throw new Error('not answered after a restart');
    const restartFirstAnswerMs = Math.round(performance.now() - t);
    console.log(`after a restart: first answer ${restartFirstAnswerMs} ms`);
    await again.close();
    const result = {
      count: args.count,
      store: args.postgres === undefined ? 'sqlite' : 'postgres',
      loadAverage: { start: load0, end: loadavg() },
      ...(seedSeconds !== undefined ? { seedSeconds } : {}),
      firstAnswerMs,
      rssMb,
      restartFirstAnswerMs,
      change: changeSummary(args.changes, times),
    };
    console.log(JSON.stringify(result, null, 2));
    if (args.save) {
      const resultsDir = resolve(import.meta.dirname, '../../../results');
      console.log(
        `results: ${writeResultJson(resultsDir, 'directory-change', result, new Date())}`,
      );
    }
    await database.close();
  } finally {
    if (args.work === undefined) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`directory-change failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
