// Memory of zone transfers at scale (issue 15), a script, not a benchmark with goals: seeds an
// SQLite store with `--count` bench numbers (the directory's bulk import, in a child process),
// loads the zone state of the directory build `--dist` (a first start, no warmer) with its DNS
// listener, and has `kdig` (another process) take an AXFR (twice), then `--changes` times publishes one
// number and takes an IXFR from the serial before. Reports the process's RSS before, at most
// during and after each transfer, and the event loop's longest delay during each (perf_hooks,
// 1 ms resolution): what a directory serving DNS meanwhile would see. Prints JSON; saves nothing.
//   node bench/dist/src/cli/xfr-memory.js --work DIR [--count 1000000] [--changes 3]
//     [--dist path/to/directory/dist/src]
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '@switchboard/db';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import { createLogger } from '@switchboard/service-kit';
import {
  BENCH_APEX,
  benchSpace,
  importLines,
  missingNumber,
  numberAt,
  writeLines,
} from '../fixtures/zone-data.js';

interface Args {
  count: number;
  changes: number;
  work: string;
  dist: string;
  seedOnly: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Partial<Args> = {
    count: 1_000_000,
    changes: 3,
    dist: resolve(import.meta.dirname, '../../../../directory/dist/src'),
    seedOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--work') args.work = argv[++i];
    else if (a === '--dist') args.dist = resolve(argv[++i] ?? '');
    else if (a === '--seed-only') args.seedOnly = true;
    else if (a === '--count' || a === '--changes') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 10_000_000) throw new Error(`${a}: 1..10000000`);
      args[a === '--count' ? 'count' : 'changes'] = n;
    } else throw new Error(`unknown option ${a}`);
  }
  if (!args.work) throw new Error('--work DIR is required (the seeded store is kept there)');
  return args as Args;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of a build given at run time */
const load = async (dist: string, path: string): Promise<any> =>
  await import(pathToFileURL(join(dist, path)).href);

/** Seeds `work/directory.db` through the directory's bulk import (this script, as a child). */
async function seed(args: Args): Promise<void> {
  const store = await load(args.dist, 'state/store.js');
  const bulk = await load(args.dist, 'state/bulk-import.js');
  const file = join(args.work, 'entries.jsonl');
  writeLines(file, importLines(benchSpace({ count: args.count })));
  const database = await openDatabase<unknown>({
    url: `sqlite:${join(args.work, 'directory.db')}`,
  });
  try {
    const s = await store.DirectoryStore.open(database);
    const done = await bulk.bulkImport(s, {
      file,
      refusedFile: join(args.work, 'refused.jsonl'),
      now: Math.floor(Date.now() / 1000),
    });
    if (done.refused > 0) throw new Error(`the import refused ${done.refused} lines`);
    writeFileSync(join(args.work, 'seeded'), String(done.imported));
  } finally {
    await database.close();
  }
  rmSync(file);
}

const mb = (): number => Math.round(process.memoryUsage().rss / 1e6);

/** The process's memory by kind, MB: what RSS holds that the JS heap does not. */
function usage(): Record<string, number> {
  // With --expose-gc: what is live, not what awaits collection.
  (globalThis as { gc?: () => void }).gc?.();
  const u = process.memoryUsage();
  const m = (n: number): number => Math.round(n / 1e6);
  return { rss: m(u.rss), heapUsed: m(u.heapUsed), external: m(u.external) };
}

/** Runs `kdig` for a transfer while sampling RSS and the event loop's delay. */
async function measured(
  port: number,
  query: string[],
): Promise<{ seconds: number; maxRssMb: number; maxDelayMs: number; stats: string }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let maxRss = mb();
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, mb())), 50);
  const started = performance.now();
  const stats = await new Promise<string>((done, fail) => {
    const args = ['@127.0.0.1', '-p', String(port), '+noall', '+stats', '+time=600', ...query];
    const kdig = spawn('kdig', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    // kdig prints an AXFR's records even with +noall: only the end (its statistics) is kept.
    let out = '';
    kdig.stdout.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4096)));
    kdig.on('error', fail);
    kdig.on('close', () => done(out));
  });
  const seconds = Math.round(performance.now() - started) / 1000;
  clearInterval(sampler);
  delay.disable();
  const received = /Received .*/.exec(stats)?.[0] ?? stats.trim();
  return {
    seconds,
    maxRssMb: maxRss,
    maxDelayMs: Math.round(delay.max / 1e4) / 100,
    stats: received,
  };
}

async function run(args: Args): Promise<void> {
  const run = join(args.work, 'run');
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run);
  // A copy per run: a build may add tables or triggers to the store's file.
  copyFileSync(join(args.work, 'directory.db'), join(run, 'directory.db'));
  const m = {
    store: await load(args.dist, 'state/store.js'),
    state: await load(args.dist, 'state/zone-state.js'),
    signer: await load(args.dist, 'zone/signer.js'),
    zone: await load(args.dist, 'zone/zone.js'),
    server: await load(args.dist, 'dns/server.js'),
    rrl: await load(args.dist, 'dns/rrl.js'),
  };
  const storeFile = join(run, 'directory.db');
  const database = await openDatabase<unknown>({ url: `sqlite:${storeFile}` });
  const store = await m.store.DirectoryStore.open(database);
  const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
  const settings = m.zone.defaultZoneSettings(BENCH_APEX);
  const signer = new m.signer.OnlineSigner(key, BENCH_APEX);
  const zone = await m.state.ZoneState.load(store, settings, key, signer, {
    imagePath: join(run, 'zone-image.db'),
    storeFile,
  });
  const rrlConfig = { responsesPerSecond: 0, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 };
  const dns = await m.server.startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zone,
    rrl: new m.rrl.ResponseRateLimiter(rrlConfig),
    transfer: { tsigKeys: [], allowFrom: ['127.0.0.1'] },
    logger: createLogger({ service: 'xfr-memory', level: 'silent' }),
    now: Date.now,
  });
  const report: Record<string, unknown> = { dist: args.dist, count: args.count, rssBeforeMb: mb() };
  // The machine's own noise: the longest delay over 2 s with nothing to do.
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 2000));
  idle.disable();
  report.idleMaxDelayMs = Math.round(idle.max / 1e4) / 100;
  // Twice: the first includes compiling the transfer's code paths.
  report.axfr = await measured(dns.port, [BENCH_APEX, 'AXFR']);
  report.afterAxfr = usage();
  report.axfrAgain = await measured(dns.port, [BENCH_APEX, 'AXFR']);
  report.afterAxfrAgain = usage();
  const space = benchSpace({ count: args.count });
  const model = await store.get(numberAt(space, 0));
  const ixfr: unknown[] = [];
  for (let i = 0; i < args.changes; i++) {
    const from = zone.snapshot.serial;
    const entry = { ...model, number: missingNumber(space, i) };
    await store.put(entry, undefined, Math.floor(Date.now() / 1000));
    await zone.refresh();
    ixfr.push({ ...(await measured(dns.port, [BENCH_APEX, `IXFR=${from}`])), rssAfterMb: mb() });
  }
  report.ixfr = ixfr;
  console.log(JSON.stringify(report, null, 2));
  await dns.close();
  await zone.close();
  await database.close();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.work, { recursive: true });
  if (args.seedOnly) return seed(args);
  if (!existsSync(join(args.work, 'seeded'))) {
    const child = spawnSync(process.execPath, [...process.argv.slice(1), '--seed-only'], {
      stdio: 'inherit',
    });
    if (child.status !== 0) throw new Error(`seeding failed (${child.status ?? child.signal})`);
  }
  if (Number(readFileSync(join(args.work, 'seeded'), 'utf8')) !== args.count) {
    throw new Error(`${args.work} holds another count of numbers`);
  }
  await run(args);
}

await main();
