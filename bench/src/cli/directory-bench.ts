// The directory benchmark (issue 3): one zone, every server, one run. See bench/README.md.
//   npm run bench:directory -w bench -- [--count 100000 | --sizes 100000,1000000] [--seconds 10] [--warmup 3] [--rounds 1]
//     [--max-rate 200000] [--latency-qps 500] [--latency-seconds 5] [--no-sign] [--no-signzone-defaults] [--no-one-core]
//     [--no-dns] [--no-warm] [--keep] [--no-save]
//     [--peers switchboard,knot-online,knot-presigned,nsd-presigned,bind-presigned]
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DnsperfRun } from '../load/dnsperf.js';
import { runDnsperf } from '../load/dnsperf.js';
import type { PeerDefinition } from '../peers/common.js';
import { bindPresigned } from '../peers/bind.js';
import { directoryPeer } from '../peers/directory.js';
import { nodeUdpEcho } from '../peers/echo.js';
import { knotOnline, knotPresigned } from '../peers/knot.js';
import { nsdPresigned } from '../peers/nsd.js';
import { checkAnswers, waitForReply, waitForZone } from '../load/probe.js';
import type { RunningPeer } from '../load/process.js';
import { canPin, freePort } from '../load/process.js';
import { parseBenchOptions } from '../cli-options.js';
import type { MixedRun, PeerResult, PeerRound, SigningResult } from '../report/directory-report.js';
import {
  dnsNotes,
  dnsTable,
  goalsOf,
  goalTable,
  signTable,
  summarisePeer,
} from '../report/directory-report.js';
import { cell, loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import type { OurSignerPhases, SigningRun } from '../load/signing.js';
import {
  generateKeys,
  signWithDnssecSignzone,
  signWithOurs,
  verifyWithBind,
} from '../load/signing.js';
import type { BenchSpace } from '../fixtures/zone-data.js';
import {
  benchSpace,
  enumName,
  importLines,
  missingCapacity,
  missingNumber,
  numberAt,
  publishedNames,
  queryLines,
  writeLines,
  zoneLines,
} from '../fixtures/zone-data.js';

type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: readonly string[]) {
  const args = parseBenchOptions(argv, {
    count: { kind: 'integer', default: 100_000, min: 10, max: 10_000_000 },
    /** `--sizes 100000,1000000`: one whole run per count, in one invocation. */
    sizes: { kind: 'number-list', min: 10, max: 10_000_000 },
    /** Queries per second a mixed run is assumed to reach at most (sizes its unpublished names). */
    maxRate: { kind: 'number', default: 200_000, min: 1 },
    seconds: { kind: 'number', default: 10, min: 0.1 },
    warmup: { kind: 'number', default: 3 },
    latencyQps: { kind: 'number', default: 500 },
    latencySeconds: { kind: 'number', default: 5 },
    peers: { kind: 'list' },
    noSign: { kind: 'flag' },
    /** Skip dnssec-signzone with its defaults: the pre-signed zone is -P's output (same zone). */
    noSignzoneDefaults: { kind: 'flag' },
    noOneCore: { kind: 'flag' },
    noDns: { kind: 'flag' },
    /** Measure our directory from its first answer instead of once every number is signed. */
    noWarm: { kind: 'flag' },
    /** Keep the input files in DIR/<count> and use them again in later runs. */
    inputs: { kind: 'string' },
  });
  for (const count of args.sizes ?? [])
    if (!Number.isInteger(count)) throw new Error('--sizes must be whole numbers');
  return { ...args, sign: !args.noSign, oneCore: !args.noOneCore, dns: !args.noDns };
}

/** The server's memory: PSS of its process and every descendant (NSD forks its server). */
function memoryMb(pid: number): number | undefined {
  const pss = (p: number): number => {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
    return Number(m?.[1] ?? 0);
  };
  const children = (p: number): number[] =>
    readdirSync(`/proc/${p}/task`).flatMap((t) =>
      readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  try {
    let kb = 0;
    for (const queue = [pid]; queue.length > 0;) {
      const p = queue.pop() as number;
      kb += pss(p);
      queue.push(...children(p));
    }
    return Math.round(kb / 1024);
  } catch {
    return undefined;
  }
}

/** Why `peer` is not run at `count` numbers (its memory estimate exceeds what is free), if so. */
function wontFit(peer: PeerDefinition, count: number): string | undefined {
  if (!peer.bytesPerNumber) return undefined;
  const available =
    Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) * 1024;
  const needed = peer.bytesPerNumber * count;
  if (!(needed > 0.8 * available)) return undefined;
  const gb = (n: number): string => (n / 2 ** 30).toFixed(1);
  return `skipped: needs about ${gb(needed)} GB (${peer.bytesPerNumber} bytes a number as seen), ${gb(available)} GB available`;
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => /\d+\.\d+/.test(l))
      ?.trim() ?? 'unknown'
  );
}

interface Inputs {
  zone: BenchSpace;
  zoneFile: string;
  presignedFile: string;
  /** Mixed query files, one per mixed run, each with its own unpublished numbers. */
  mixedFiles: Record<MixedRun, string>;
  /** Unpublished names in each mixed file (a run asking for more would repeat some). */
  missingInFile: Record<MixedRun, number>;
  existingFile: string;
  existingNames: { has(name: string): boolean };
  sampleExisting: string;
  sampleMissing: string;
}

/**
 * Unpublished names a mixed run of `seconds` may ask for at most (half its queries): at
 * `--max-rate` when saturated, at the fixed rate (plus 10% for dnsperf's pacing) otherwise.
 */
function missingBudget(args: Args, seconds: number, rate: number): number {
  const budget = rate > 0 ? (seconds * rate * 1.1) / 2 : (seconds * args.maxRate) / 2;
  return Math.max(1, Math.ceil(budget));
}

/**
 * The zone file, the import file and the query files, each streamed into `dir`; with
 * `--inputs DIR` kept there and used again by a later run with the same count and run lengths.
 */
function writeInputs(
  zone: BenchSpace,
  dir: string,
  work: string,
  args: Args,
): Inputs & { importFile: string } {
  const file = (name: string): string => join(dir, name);
  const t0 = performance.now();
  const made = join(dir, 'inputs.json');
  const key = JSON.stringify([
    zone,
    args.maxRate,
    args.warmup,
    args.seconds,
    args.latencySeconds,
    args.latencyQps,
  ]);
  const kept = existsSync(made)
    ? (JSON.parse(readFileSync(made, 'utf8')) as {
        key: string;
        missingInFile: Record<MixedRun, number>;
      })
    : undefined;
  const missingInFile = kept?.key === key ? kept.missingInFile : writeFiles(zone, dir, args);
  if (kept?.key === key) console.log(`inputs of an earlier run used again from ${dir}`);
  else writeFileSync(made, JSON.stringify({ key, missingInFile }));
  console.log(`inputs ready in ${Math.round(performance.now() - t0)} ms`);
  return {
    zone,
    zoneFile: file('zone.db'),
    presignedFile: join(work, 'zone.signed.db'),
    importFile: file('entries.jsonl'),
    mixedFiles: {
      warmup: file('queries-warmup.txt'),
      mixed: file('queries-mixed.txt'),
      fixedRate: file('queries-fixedRate.txt'),
    },
    missingInFile,
    existingFile: file('queries-existing.txt'),
    existingNames: publishedNames(zone),
    sampleExisting: enumName(numberAt(zone, 0), zone.apex),
    sampleMissing: enumName(missingNumber(zone, missingCapacity(zone) - 1), zone.apex),
  };
}

/** Writes the input files (see writeInputs); returns the unpublished names of each mixed file. */
function writeFiles(zone: BenchSpace, dir: string, args: Args): Record<MixedRun, number> {
  const file = (name: string): string => join(dir, name);
  writeLines(file('zone.db'), zoneLines(zone));
  writeLines(file('entries.jsonl'), importLines(zone));
  // Each mixed run asks for names no earlier run of the same server asked for.
  const runs = [
    ['warmup', args.warmup, 0],
    ['mixed', args.seconds, 0],
    ['fixedRate', args.latencySeconds, args.latencyQps],
  ] as const;
  const missingInFile = { warmup: 0, mixed: 0, fixedRate: 0 };
  let missingFrom = 0;
  for (const [name, seconds, rate] of runs) {
    const missing = Math.min(missingBudget(args, seconds, rate), MAX_MISSING_PER_FILE);
    if (missingFrom + missing > missingCapacity(zone)) throw new Error('number space exhausted');
    // Lines alternate published, unpublished: the file's odd lines are its unpublished names.
    const lines = writeLines(
      file(`queries-${name}.txt`),
      queryLines(zone, { mix: 'mixed', lines: 2 * missing, missingFrom }),
    );
    missingInFile[name] = Math.floor(lines / 2);
    missingFrom += missing;
  }
  writeLines(
    file('queries-existing.txt'),
    queryLines(zone, { mix: 'existing', lines: Math.min(zone.count, 2_000_000) }),
  );
  console.log(`inputs written (${missingFrom} unpublished names)`);
  return missingInFile;
}

/** Unpublished names per query file at most (two ~51-byte lines each: about 100 MB per million). */
const MAX_MISSING_PER_FILE = 20_000_000;

/** Starts `peer` and waits until it is measurable (ours: warm, with its answers checked). */
async function startPeer(
  peer: PeerDefinition,
  dir: string,
  inputs: Inputs,
  cpu: number | undefined,
  round: PeerRound,
): Promise<{ running: RunningPeer; port: number }> {
  const port = await freePort();
  console.log(`[${peer.id}] starting on 127.0.0.1:${port}...`);
  const t0 = performance.now();
  const running = await peer.start({
    workDir: dir,
    apex: inputs.zone.apex,
    zoneFile: peer.zone === 'presigned' ? inputs.presignedFile : inputs.zoneFile,
    port,
    ...(cpu !== undefined ? { cpu } : {}),
  });
  try {
    await awaitReady(peer, port, running, inputs, t0, round);
  } catch (err) {
    await running.stop();
    throw err;
  }
  return { running, port };
}

async function awaitReady(
  peer: PeerDefinition,
  port: number,
  running: RunningPeer,
  inputs: Inputs,
  t0: number,
  round: PeerRound,
): Promise<void> {
  if (peer.reference) {
    await waitForReply(port, inputs.zone.apex, 30_000);
    round.startSeconds = Math.round((performance.now() - t0) / 100) / 10;
    return;
  }
  // Loading grows with the zone: NSD precomputing the NSEC3 chain of 1,000,000 numbers under load
  // went past 15 minutes (2026-12-03).
  const deadline = 900_000 + 3 * inputs.zone.count;
  await waitForZone(port, inputs.zone.apex, deadline, () => running.exited());
  // Counted from the end of set-up (our directory's database seeding), which is reported apart.
  const setup = running.setupMs ?? 0;
  if (running.setupMs !== undefined) round.setupSeconds = Math.round(setup / 100) / 10;
  round.startSeconds = Math.round((performance.now() - t0 - setup) / 100) / 10;
  round.firstAnswerSeconds =
    running.firstAnswerMs !== undefined
      ? Math.round((running.firstAnswerMs - setup) / 100) / 10
      : round.startSeconds;
  round.check = await checkAnswers(port, inputs.sampleExisting, inputs.sampleMissing);
  console.log(
    `[${peer.id}] ${round.setupSeconds !== undefined ? `set-up ${round.setupSeconds}s, ` : ''}first answer ${round.firstAnswerSeconds}s, ready ${round.startSeconds}s; answers ${round.check.ok ? 'ok' : 'WRONG'}: ` +
      `existing ${round.check.existing}, missing ${round.check.missing}`,
  );
}

/** Warm-up, the saturated mixed and existing runs, then the fixed-rate run, into `round`. */
async function runQueries(
  peer: PeerDefinition,
  dir: string,
  port: number,
  inputs: Inputs,
  args: Args,
  client: number | undefined,
  round: PeerRound,
): Promise<void> {
  const common = {
    port,
    existingNames: inputs.existingNames,
    ...(client !== undefined ? { cpu: client } : {}),
  };
  const out = (name: string): string => join(dir, `dnsperf-${name}.txt`);
  // Each mixed run asks for its own unpublished names: counted against what its file holds.
  const mixed = async (run: MixedRun, seconds: number, maxQps?: number): Promise<DnsperfRun> => {
    const result = await runDnsperf({
      ...common,
      queryFile: inputs.mixedFiles[run],
      seconds,
      outputFile: out(run === 'fixedRate' ? 'fixed-rate' : run),
      ...(maxQps !== undefined ? { maxQps } : {}),
    });
    // Odd lines are the unpublished names: the run asked for half of what it sent.
    const asked = Math.floor(result.summary.sent / 2);
    const inFile = inputs.missingInFile[run];
    (round.unpublished ??= {})[run] = { inFile, asked };
    if (asked > inFile) {
      round.missRepeated = true;
      console.log(`[${peer.id}] WARNING: the ${run} run wrapped its query file; raise --max-rate`);
    }
    return result;
  };
  if (args.warmup > 0) await mixed('warmup', args.warmup);
  round.mixed = await mixed('mixed', args.seconds);
  round.existing = await runDnsperf({
    ...common,
    queryFile: inputs.existingFile,
    seconds: args.seconds,
    outputFile: out('existing'),
  });
  if (args.latencySeconds > 0) {
    round.fixedRate = await mixed('fixedRate', args.latencySeconds, args.latencyQps);
  }
  console.log(
    `[${peer.id}] mixed ${cell(round.mixed.summary.qps)} q/s, existing ${cell(round.existing.summary.qps)} q/s` +
      (round.fixedRate
        ? `, at ${args.latencyQps} q/s p50/p99 ${round.fixedRate.latency.p50Ms}/${round.fixedRate.latency.p99Ms} ms`
        : '') +
      `; unpublished names asked/in file: ${unpublishedText(round)}`,
  );
}

/** `warmup 12,345/300,000, mixed ...`: each mixed run's unpublished names asked and held. */
function unpublishedText(round: PeerRound): string {
  return Object.entries(round.unpublished ?? {})
    .map(([run, u]) => `${run} ${cell(u.asked)}/${cell(u.inFile)}`)
    .join(', ');
}

async function measurePeer(
  peer: PeerDefinition,
  dir: string,
  inputs: Inputs,
  args: Args,
  cpus: { server?: number; client?: number },
): Promise<PeerRound> {
  const round: PeerRound = {};
  mkdirSync(dir, { recursive: true });
  let running: RunningPeer | undefined;
  try {
    const started = await startPeer(peer, dir, inputs, cpus.server, round);
    running = started.running;
    await runQueries(peer, dir, started.port, inputs, args, cpus.client, round);
    const memory = memoryMb(running.pid);
    if (memory !== undefined) round.memoryMb = memory;
  } catch (err) {
    round.error = (err as Error).message;
    console.log(`[${peer.id}] FAILED: ${round.error}`);
  } finally {
    await running?.stop();
  }
  return round;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const count of args.sizes ?? [args.count]) {
    await runSize({ ...args, count }, args.sizes ? `directory-${count}` : 'directory');
  }
}

/** One whole run at `args.count` numbers; `section` names its table in results/README.md. */
async function runSize(args: Args, section: string): Promise<void> {
  const pin = canPin();
  const work = mkdtempSync(join(tmpdir(), 'sb-bench-directory-'));
  const started = new Date();
  const load0 = loadavg();
  console.log(
    `directory benchmark: ${args.count} numbers, ${args.rounds} round(s), ${args.seconds}s per dnsperf run, work dir ${work}`,
  );
  console.log(
    pin ? 'servers pinned to CPU 0, dnsperf to CPU 1' : 'taskset unavailable: nothing pinned',
  );
  console.log(`load average at start: ${loadText(load0, 2)}`);
  const zone = benchSpace({ count: args.count });
  const inputDir = args.inputs ? join(args.inputs, String(args.count)) : work;
  mkdirSync(inputDir, { recursive: true });
  const inputs = writeInputs(zone, inputDir, work, args);
  const signing = await signAll(args, inputs, work, started, pin);
  const results = await measurePeers(args, inputs, work, pin ? { server: 0, client: 1 } : {});
  const rows = dnsTable(results, args.latencyQps, !args.noWarm);
  const notes = dnsNotes(results, args);
  const signRows = signTable(signing);
  const goals = goalsOf(results, signing);
  const goalRows = goalTable(goals);
  const load1 = loadavg();
  const dnsTitle = `DNS: dnsperf -D, NAPTR, ${args.seconds}s saturated runs (median of ${args.rounds}); latency at a fixed ${args.latencyQps} q/s (mixed)`;
  const signTitle =
    'Export signing: NSEC3 no salt, 0 iterations; ECDSA P-256 ZSK+KSK; same zone and keys';
  if (args.dns) console.log(`\n${dnsTitle}\n${table(rows)}\n${notes.join('\n')}`);
  console.log(`\n${signTitle}\n${table(signRows)}`);
  for (const s of signing.filter((x) => x.phases)) {
    const ourPhases = s.phases as OurSignerPhases;
    console.log(
      `${s.id} phases: read+parse ${ourPhases.readParseMs} ms, sign ${ourPhases.signMs} ms, format+write ${ourPhases.formatWriteMs} ms, ${ourPhases.rrsigs} RRSIGs`,
    );
  }
  console.log(`\n${table(goalRows)}`);
  console.log(`load average at end: ${loadText(load1, 2)}`);
  const file = saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'directory',
      section,
      started,
      options: args,
      environment: environment(pin, load0, load1),
      data: {
        zone: {
          apex: zone.apex,
          numbers: zone.count,
          sampleExisting: inputs.sampleExisting,
          sampleMissing: inputs.sampleMissing,
        },
        servers: results,
        signing,
        goals,
      },
      markdown: (json) =>
        [
          `## directory: ${started.toISOString()}`,
          '',
          `${args.count} numbers; ${pin ? 'server on CPU 0, dnsperf on CPU 1' : 'not pinned'}; load average ${loadText(load0)} at start, ${loadText(load1)} at end (2 cores shared with other work: only the ratios mean anything).`,
          '',
          ...(args.dns ? [`${dnsTitle}.`, '', markdownTable(rows), '', ...notes, ''] : []),
          `${signTitle}.`,
          '',
          markdownTable(signRows),
          '',
          markdownTable(goalRows),
          '',
          `Full data: \`${json}\`.`,
        ].join('\n'),
    },
    args.noSave,
  );
  if (file) console.log(`\nresults: ${file}`);
  if (args.keep) console.log(`work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

/** Node, the cores, the load and the peers' versions, for the results file. */
function environment(pin: boolean, load0: number[], load1: number[]): Record<string, unknown> {
  return {
    node: process.version,
    cpus: cpus().length,
    pinned: pin,
    loadavgAtStart: load0,
    loadavgAtEnd: load1,
    knotd: version('knotd', ['-V']),
    nsd: version('nsd', ['-v']),
    named: version('named', ['-v']),
    dnsperf: version('dnsperf', ['-h']),
  };
}

/**
 * Keys, the reference signing by dnssec-signzone (whose output the pre-signed peers load) and,
 * unless --no-sign, the other signers on the same zone and keys.
 */
async function signAll(
  args: Args,
  inputs: Inputs,
  work: string,
  started: Date,
  pin: boolean,
): Promise<SigningResult[]> {
  const apex = inputs.zone.apex;
  const keyDir = join(work, 'keys');
  mkdirSync(keyDir);
  const keys = generateKeys(keyDir, apex);
  const window = {
    inception: new Date(started.getTime() - 3_600_000),
    expiration: new Date(started.getTime() + 30 * 86_400_000),
  };
  const signLog = join(work, 'signing.log');
  // The reference signing makes the pre-signed zone: skipped with --no-sign when no peer loads it.
  const presigned = choosePeers(args, '').some(
    (p) => p.zone === 'presigned' && wontFit(p, args.count) === undefined,
  );
  if (!args.sign && !presigned) return [];
  // Its defaults (which verify) or, with --no-signzone-defaults, -P: the same signed zone.
  const quick = args.noSignzoneDefaults;
  console.log(
    quick
      ? 'signing with dnssec-signzone -3 - -H 0 -P (all cores, no verification)...'
      : 'signing with dnssec-signzone -3 - -H 0 (its defaults: all cores, verifies its output)...',
  );
  const reference = await signWithDnssecSignzone(
    quick ? 'dnssec-signzone-P' : 'dnssec-signzone',
    inputs.zoneFile,
    inputs.presignedFile,
    apex,
    keys,
    window,
    quick ? ['-P'] : [],
    { logFile: signLog },
  );
  const signing: SigningResult[] = [{ ...reference, cores: cpus().length }];
  if (!reference.ok) throw new Error(`dnssec-signzone failed: ${reference.detail}`);
  if (args.sign) {
    const job: SignJob = { zoneFile: inputs.zoneFile, work, apex, keys, window, signLog };
    signing.push(...(await signVariants(job, args.oneCore && !quick, pin, !quick)));
  }
  for (const s of signing)
    console.log(
      `  ${s.id}: ${s.ok ? `${s.seconds.toFixed(2)} s, CPU ${s.cpuSeconds?.toFixed(1) ?? '-'} s` : `FAILED ${s.detail}`}`,
    );
  return signing;
}

interface SignJob {
  readonly zoneFile: string;
  readonly work: string;
  readonly apex: string;
  readonly keys: ReturnType<typeof generateKeys>;
  readonly window: { inception: Date; expiration: Date };
  readonly signLog: string;
}

/**
 * dnssec-signzone -P (unless it made the reference) and ours on all cores (ours checked by
 * dnssec-verify), then on one core.
 */
async function signVariants(
  job: SignJob,
  oneCore: boolean,
  pin: boolean,
  withP: boolean,
): Promise<SigningResult[]> {
  const { zoneFile, apex, keys, window, signLog } = job;
  const all = cpus().length;
  const serverCpu = pin ? { cpu: 0 } : {};
  const signing: SigningResult[] = [];
  const variant = async (
    id: string,
    label: string,
    run: () => Promise<SigningRun & { phases?: OurSignerPhases }>,
  ): Promise<void> => {
    console.log(`signing: ${label}...`);
    signing.push({ ...(await run()), cores: id.endsWith('1core') ? 1 : all });
  };
  const out = (name: string): string => join(job.work, `zone.signed-${name}.db`);
  if (withP) {
    await variant(
      'dnssec-signzone-P',
      `dnssec-signzone -P (all ${all} cores, no verification)`,
      () =>
        signWithDnssecSignzone(
          'dnssec-signzone-P',
          zoneFile,
          out('P'),
          apex,
          keys,
          window,
          ['-P'],
          {
            logFile: signLog,
          },
        ),
    );
  }
  await variant('switchboard-parallel', `signZoneNsec3ParallelText, ${all} worker threads`, () =>
    signWithOurs('switchboard-parallel', all, zoneFile, out('ours-parallel'), apex, keys, window, {
      logFile: signLog,
    }),
  );
  const parallel = signing[signing.length - 1];
  if (parallel?.ok) parallel.verify = verifyWithBind(out('ours-parallel'), apex);
  if (!oneCore) return signing;
  await variant('dnssec-signzone-1core', 'dnssec-signzone -n 1 -P on one core', () =>
    signWithDnssecSignzone(
      'dnssec-signzone-1core',
      zoneFile,
      out('1core'),
      apex,
      keys,
      window,
      ['-n', '1', '-P'],
      { logFile: signLog, ...serverCpu },
    ),
  );
  await variant('switchboard-1core', 'signZoneNsec3 on one core', () =>
    signWithOurs('switchboard-1core', 0, zoneFile, out('ours-1core'), apex, keys, window, {
      logFile: signLog,
      ...serverCpu,
    }),
  );
  return signing;
}

/** The servers `--peers` (default all) chooses; none with --no-dns. */
function choosePeers(args: Args, importFile: string): PeerDefinition[] {
  const all: PeerDefinition[] = [
    directoryPeer(importFile, args.count, !args.noWarm),
    nodeUdpEcho,
    knotOnline,
    knotPresigned,
    nsdPresigned,
    bindPresigned,
  ];
  return !args.dns ? [] : args.peers ? all.filter((p) => args.peers?.includes(p.id)) : all;
}

/** Every chosen server, round after round (each round starts and stops every server). */
async function measurePeers(
  args: Args,
  inputs: Inputs & { importFile: string },
  work: string,
  cpuPlan: { server?: number; client?: number },
): Promise<PeerResult[]> {
  const peers = choosePeers(args, inputs.importFile);
  const results: PeerResult[] = peers.map((p) => ({
    id: p.id,
    description: p.description,
    ...(p.reference ? { reference: true } : {}),
    rounds: [],
  }));
  for (let round = 1; round <= args.rounds; round++) {
    console.log(`\nround ${round}/${args.rounds}`);
    for (const [i, peer] of peers.entries()) {
      const skipped = wontFit(peer, args.count);
      if (skipped) console.log(`[${peer.id}] ${skipped}`);
      const dir = join(work, `${peer.id}-${round}`);
      results[i]?.rounds.push(
        skipped ? { skipped } : await measurePeer(peer, dir, inputs, args, cpuPlan),
      );
    }
  }
  results.forEach(summarisePeer);
  return results;
}

main().catch((err: unknown) => {
  console.error(`directory benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
