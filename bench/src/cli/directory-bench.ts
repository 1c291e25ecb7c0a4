// The directory benchmark (issue 3): one zone, every server, one run. See bench/README.md.
//   npm run bench:directory -w bench -- [--count 100000 | --sizes 100000,1000000] [--seconds 10] [--warmup 3] [--rounds 1]
//     [--max-rate 200000] [--latency-qps 500] [--latency-seconds 5] [--no-sign] [--no-one-core] [--no-dns] [--keep] [--no-save]
//     [--peers switchboard,knot-online,knot-presigned,nsd-presigned,bind-presigned]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import type { AnswerCheck } from '../load/probe.js';
import { checkAnswers, waitForReply, waitForZone } from '../load/probe.js';
import type { RunningPeer } from '../load/process.js';
import { canPin, freePort } from '../load/process.js';
import { parseBenchOptions } from '../cli-options.js';
import { cell, loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import type { OurSignerPhases, SigningRun } from '../load/signing.js';
import {
  generateKeys,
  signWithDnssecSignzone,
  signWithOurs,
  verifyWithBind,
} from '../load/signing.js';
import { ratio } from '../load/stats.js';
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
    noOneCore: { kind: 'flag' },
    noDns: { kind: 'flag' },
  });
  for (const count of args.sizes ?? [])
    if (!Number.isInteger(count)) throw new Error('--sizes must be whole numbers');
  return { ...args, sign: !args.noSign, oneCore: !args.noOneCore, dns: !args.noDns };
}

/** One start-measure-stop cycle of one server. */
interface PeerRound {
  error?: string;
  /** Seconds from spawn (after set-up) until measured: `warm` for ours (`/healthz`), first answer for the others. */
  startSeconds?: number;
  /** The mixed run sent more queries than its file holds: some misses were asked twice. */
  missRepeated?: boolean;
  /** Seconds from the end of set-up to the first authoritative SOA answer. */
  firstAnswerSeconds?: number;
  /** Seconds of set-up before start-up (our directory: seeding its database by bulk import). */
  setupSeconds?: number;
  rssMb?: number;
  check?: AnswerCheck;
  /** Saturated: half published / half unpublished numbers. */
  mixed?: DnsperfRun;
  /** Saturated: published numbers only. */
  existing?: DnsperfRun;
  /** Mixed queries at a fixed rate below every server's capacity: latency without queueing. */
  fixedRate?: DnsperfRun;
}

interface PeerResult {
  id: string;
  description: string;
  /** Not a DNS server (see PeerDefinition.reference). */
  reference?: boolean;
  rounds: PeerRound[];
  /** Medians over the rounds that completed. */
  mixedQps?: number;
  existingQps?: number;
  fixedP50Existing?: number;
  fixedP99Existing?: number;
  fixedP50Missing?: number;
  fixedP99Missing?: number;
  /** q/s dnsperf achieved in the fixed-rate run (below the target: the server was saturated). */
  fixedQps?: number;
}

function median(values: readonly number[]): number | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
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
  mixedFiles: { warmup: string; mixed: string; fixedRate: string };
  /** Lines of the saturated mixed file (dnsperf sending more means unpublished names repeated). */
  mixedLines: number;
  existingFile: string;
  existingNames: { has(name: string): boolean };
  sampleExisting: string;
  sampleMissing: string;
}

/** Unpublished names a mixed run of `seconds` may ask for at most (half its queries). */
function missingBudget(args: Args, seconds: number): number {
  return Math.ceil((seconds * args.maxRate) / 2);
}

/** Writes the zone file, the import file and the query files, each streamed. */
function writeInputs(zone: BenchSpace, work: string, args: Args): Inputs & { importFile: string } {
  const file = (name: string): string => join(work, name);
  const t0 = performance.now();
  writeLines(file('zone.db'), zoneLines(zone));
  writeLines(file('entries.jsonl'), importLines(zone));
  // Each mixed run asks for names no earlier run of the same server asked for.
  const runs = [
    ['warmup', args.warmup, 0],
    ['mixed', args.seconds, 0],
    ['fixedRate', args.latencySeconds, args.latencyQps],
  ] as const;
  const mixedFiles = { warmup: '', mixed: '', fixedRate: '' };
  const lines = { warmup: 0, mixed: 0, fixedRate: 0 };
  let missingFrom = 0;
  for (const [name, seconds, rate] of runs) {
    const budget = Math.max(
      1,
      rate > 0 ? Math.ceil((seconds * rate) / 2) : missingBudget(args, seconds),
    );
    const missing = Math.min(budget, MAX_MISSING_PER_FILE);
    if (missingFrom + missing > missingCapacity(zone)) throw new Error('number space exhausted');
    mixedFiles[name] = file(`queries-${name}.txt`);
    lines[name] = writeLines(
      mixedFiles[name],
      queryLines(zone, { mix: 'mixed', lines: 2 * missing, missingFrom }),
    );
    missingFrom += missing;
  }
  const existingFile = file('queries-existing.txt');
  writeLines(
    existingFile,
    queryLines(zone, { mix: 'existing', lines: Math.min(zone.count, 2_000_000) }),
  );
  console.log(
    `inputs written in ${Math.round(performance.now() - t0)} ms (${missingFrom} unpublished names)`,
  );
  return {
    zone,
    zoneFile: file('zone.db'),
    presignedFile: file('zone.signed.db'),
    importFile: file('entries.jsonl'),
    mixedFiles,
    mixedLines: lines.mixed,
    existingFile,
    existingNames: publishedNames(zone),
    sampleExisting: enumName(numberAt(zone, 0), zone.apex),
    sampleMissing: enumName(missingNumber(zone, missingCapacity(zone) - 1), zone.apex),
  };
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
  await waitForZone(port, inputs.zone.apex, 900_000, () => running.exited());
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
  if (args.warmup > 0) {
    await runDnsperf({
      ...common,
      queryFile: inputs.mixedFiles.warmup,
      seconds: args.warmup,
      outputFile: out('warmup'),
    });
  }
  round.mixed = await runDnsperf({
    ...common,
    queryFile: inputs.mixedFiles.mixed,
    seconds: args.seconds,
    outputFile: out('mixed'),
  });
  if (round.mixed.summary.sent > inputs.mixedLines) {
    round.missRepeated = true;
    console.log(`[${peer.id}] WARNING: dnsperf wrapped its query file; raise --max-rate`);
  }
  round.existing = await runDnsperf({
    ...common,
    queryFile: inputs.existingFile,
    seconds: args.seconds,
    outputFile: out('existing'),
  });
  if (args.latencySeconds > 0) {
    round.fixedRate = await runDnsperf({
      ...common,
      queryFile: inputs.mixedFiles.fixedRate,
      seconds: args.latencySeconds,
      maxQps: args.latencyQps,
      outputFile: out('fixed-rate'),
    });
  }
  console.log(
    `[${peer.id}] mixed ${cell(round.mixed.summary.qps)} q/s, existing ${cell(round.existing.summary.qps)} q/s` +
      (round.fixedRate
        ? `, at ${args.latencyQps} q/s p50/p99 ${round.fixedRate.latency.p50Ms}/${round.fixedRate.latency.p99Ms} ms`
        : ''),
  );
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
    const rss = rssMb(running.pid);
    if (rss !== undefined) round.rssMb = rss;
  } catch (err) {
    round.error = (err as Error).message;
    console.log(`[${peer.id}] FAILED: ${round.error}`);
  } finally {
    await running?.stop();
  }
  return round;
}

function summarisePeer(result: PeerResult): void {
  const ok = result.rounds.filter((r) => r.error === undefined);
  const m = (f: (r: PeerRound) => number | undefined): number | undefined =>
    median(ok.map(f).filter((x): x is number => x !== undefined));
  const set = <K extends keyof PeerResult>(key: K, value: PeerResult[K] | undefined): void => {
    if (value !== undefined) result[key] = value;
  };
  set(
    'mixedQps',
    m((r) => r.mixed?.summary.qps),
  );
  set(
    'existingQps',
    m((r) => r.existing?.summary.qps),
  );
  set(
    'fixedP50Existing',
    m((r) => r.fixedRate?.latencyExisting.p50Ms),
  );
  set(
    'fixedP99Existing',
    m((r) => r.fixedRate?.latencyExisting.p99Ms),
  );
  set(
    'fixedP50Missing',
    m((r) => r.fixedRate?.latencyMissing.p50Ms),
  );
  set(
    'fixedP99Missing',
    m((r) => r.fixedRate?.latencyMissing.p99Ms),
  );
  set(
    'fixedQps',
    m((r) => r.fixedRate?.summary.qps),
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const count of args.sizes ?? [args.count]) {
    await runSize({ ...args, count }, args.sizes ? `directory-${count}` : 'directory');
  }
}

type SigningResult = SigningRun & {
  cores?: number;
  phases?: OurSignerPhases;
  verify?: { ok: boolean; detail: string };
};

interface Goal {
  goal: string;
  measured: number | null | undefined;
  target: number;
  higher: boolean;
  met: boolean | null;
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
  const inputs = writeInputs(zone, work, args);
  const signing = await signAll(args, inputs, work, started, pin);
  const results = await measurePeers(args, inputs, work, pin ? { server: 0, client: 1 } : {});
  const rows = dnsTable(results, args.latencyQps);
  const signRows = signTable(signing);
  const goals = goalsOf(results, signing);
  const goalRows = goalTable(goals);
  const load1 = loadavg();
  const dnsTitle = `DNS: dnsperf -D, NAPTR, ${args.seconds}s saturated runs (median of ${args.rounds}); latency at a fixed ${args.latencyQps} q/s (mixed)`;
  const signTitle =
    'Export signing: NSEC3 no salt, 0 iterations; ECDSA P-256 ZSK+KSK; same zone and keys';
  if (args.dns) console.log(`\n${dnsTitle}\n${table(rows)}`);
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
          ...(args.dns ? [`${dnsTitle}.`, '', markdownTable(rows), ''] : []),
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
  const presigned = choosePeers(args, '').some((p) => p.zone === 'presigned');
  if (!args.sign && !presigned) return [];
  console.log(
    'signing with dnssec-signzone -3 - -H 0 (its defaults: all cores, verifies its output)...',
  );
  const reference = await signWithDnssecSignzone(
    'dnssec-signzone',
    inputs.zoneFile,
    inputs.presignedFile,
    apex,
    keys,
    window,
    [],
    { logFile: signLog },
  );
  const signing: SigningResult[] = [{ ...reference, cores: cpus().length }];
  if (!reference.ok) throw new Error(`dnssec-signzone failed: ${reference.detail}`);
  if (args.sign) {
    const job: SignJob = { zoneFile: inputs.zoneFile, work, apex, keys, window, signLog };
    signing.push(...(await signVariants(job, args.oneCore, pin)));
  }
  for (const s of signing)
    console.log(`  ${s.id}: ${s.ok ? `${s.seconds.toFixed(2)} s` : `FAILED ${s.detail}`}`);
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

/** dnssec-signzone -P and ours on all cores (ours checked by dnssec-verify), then on one core. */
async function signVariants(
  job: SignJob,
  oneCore: boolean,
  pin: boolean,
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
  await variant('dnssec-signzone-P', `dnssec-signzone -P (all ${all} cores, no verification)`, () =>
    signWithDnssecSignzone('dnssec-signzone-P', zoneFile, out('P'), apex, keys, window, ['-P'], {
      logFile: signLog,
    }),
  );
  await variant('switchboard-parallel', `signZoneNsec3Parallel, ${all} worker threads`, () =>
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
    directoryPeer(importFile, args.count),
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
      const dir = join(work, `${peer.id}-${round}`);
      results[i]?.rounds.push(await measurePeer(peer, dir, inputs, args, cpuPlan));
    }
  }
  results.forEach(summarisePeer);
  return results;
}

/** The DNS table: q/s with ratios to Knot online signing (mixed) and BIND (existing). */
function dnsTable(results: readonly PeerResult[], lq: number): string[][] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const knotQps = byId.get('knot-online')?.mixedQps;
  const bindQps = byId.get('bind-presigned')?.existingQps;
  // A server that cannot keep up with the fixed rate shows queueing, not its latency.
  const saturated = (r: PeerResult): string =>
    r.fixedQps !== undefined && r.fixedQps < 0.9 * lq
      ? ` (saturated at ${cell(r.fixedQps)} q/s)`
      : '';
  const rows: string[][] = [
    [
      'server',
      'mixed q/s',
      'x knot-online',
      'existing q/s',
      'x bind',
      `p50/p99 ms existing @${lq}`,
      `p50/p99 ms missing @${lq}`,
      'bytes exist/miss',
      'lost',
      'RSS MB',
      'first answer s',
      'warm s',
      'answers',
    ],
  ];
  for (const r of results) {
    const last = r.rounds[r.rounds.length - 1];
    if (r.mixedQps === undefined) {
      rows.push([r.id, 'error', ...Array<string>(10).fill(''), (last?.error ?? '').slice(0, 80)]);
      continue;
    }
    const lost = r.rounds.reduce(
      (n, x) => n + (x.mixed?.summary.lost ?? 0) + (x.existing?.summary.lost ?? 0),
      0,
    );
    rows.push([
      r.id,
      cell(r.mixedQps),
      cell(ratio(r.mixedQps, knotQps), 2),
      cell(r.existingQps),
      cell(ratio(r.existingQps, bindQps), 2),
      `${cell(r.fixedP50Existing, 2)} / ${cell(r.fixedP99Existing, 2)}${saturated(r)}`,
      `${cell(r.fixedP50Missing, 2)} / ${cell(r.fixedP99Missing, 2)}${saturated(r)}`,
      last?.check ? `${last.check.existingBytes}/${last.check.missingBytes}` : '-',
      cell(lost),
      cell(last?.rssMb),
      cell(last?.firstAnswerSeconds, 1),
      cell(last?.startSeconds, 1),
      r.reference ? 'n/a (echo)' : r.rounds.every((x) => x.check?.ok) ? 'ok' : 'WRONG',
    ]);
  }
  return rows;
}

function signSeconds(signing: readonly SigningResult[], id: string): number | undefined {
  return signing.find((s) => s.id === id && s.ok)?.seconds;
}

/** The signing table: each signer against dnssec-signzone's defaults and -P on the same cores. */
function signTable(signing: readonly SigningResult[]): string[][] {
  const refSeconds = signSeconds(signing, 'dnssec-signzone');
  const sameCores = (id: string): number | undefined =>
    signSeconds(signing, id.endsWith('1core') ? 'dnssec-signzone-1core' : 'dnssec-signzone-P');
  const signRows: string[][] = [
    [
      'signer',
      'cores',
      'seconds',
      'x dnssec-signzone',
      'x dnssec-signzone -P, same cores',
      'output',
    ],
  ];
  for (const s of signing) {
    signRows.push([
      s.id,
      cell(s.cores),
      cell(s.seconds, 2),
      cell(ratio(s.seconds, refSeconds), 2),
      s.id === 'dnssec-signzone' ? '-' : cell(ratio(s.seconds, sameCores(s.id)), 2),
      !s.ok
        ? (s.detail ?? 'failed')
        : s.verify
          ? s.verify.ok
            ? 'dnssec-verify ok'
            : 'dnssec-verify FAILED'
          : 'ok',
    ]);
  }
  return signRows;
}

/** The goals of issue 3, as measured. */
function goalsOf(results: readonly PeerResult[], signing: readonly SigningResult[]): Goal[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const knotQps = byId.get('knot-online')?.mixedQps;
  const bindQps = byId.get('bind-presigned')?.existingQps;
  const ours = byId.get('switchboard');
  const ourSigning = signing.find((s) => s.id === 'switchboard-parallel');
  const refSeconds = signSeconds(signing, 'dnssec-signzone');
  return [
    {
      goal: 'walk-proof config >= 1.5x Knot online-signing q/s (mixed)',
      measured: ratio(ours?.mixedQps, knotQps),
      target: 1.5,
      higher: true,
    },
    {
      goal: 'existing numbers >= BIND 9 q/s',
      measured: ratio(ours?.existingQps, bindQps),
      target: 1,
      higher: true,
    },
    {
      goal: 'export signing (parallel, all cores) < half of dnssec-signzone time (its defaults)',
      measured: ourSigning?.ok ? ratio(ourSigning.seconds, refSeconds) : null,
      target: 0.5,
      higher: false,
    },
  ].map((g) => ({
    ...g,
    met:
      g.measured === null || g.measured === undefined
        ? null
        : g.higher
          ? g.measured >= g.target
          : g.measured < g.target,
  }));
}

function goalTable(goals: readonly Goal[]): string[][] {
  const goalRows: string[][] = [['goal (issue 3)', 'measured', 'target', 'met']];
  for (const g of goals) {
    goalRows.push([
      g.goal,
      cell(g.measured, 2),
      `${g.higher ? '>=' : '<'} ${g.target}`,
      g.met === null ? 'not measured' : g.met ? 'yes' : 'NO',
    ]);
  }
  return goalRows;
}

main().catch((err: unknown) => {
  console.error(`directory benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
