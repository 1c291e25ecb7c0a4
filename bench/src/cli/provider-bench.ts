// Provider API benchmark (issue 3, priority 2; goals of issue 5): prekey-bundle fetch and
// registration through the real provider API on SQLite and PostgreSQL, each against a bare
// express handler measured in the same run, plus bundle fetches at a fixed rate for latency.
// See bench/README.md.
//   npm run bench:provider -w bench -- [--seconds 10] [--connections 10] [--registrations 1000]
//     [--accounts 200] [--prekeys 1000] [--rate 1000] [--rounds 2] [--dialects sqlite,postgres]
//     [--keep] [--no-save]
// Bundle runs are split into --rounds slices, provider and bare alternating (which goes first
// alternates too), so that load from elsewhere on the machine hits both alike; rates are over
// the summed time, percentiles over every 2xx response of all slices.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DialectName } from '@switchboard/db';
import type { HttpLoadResult, HttpLoadRun } from '../http-load.js';
import {
  cpuPerRequestUs,
  mergeHttpLoads,
  runHttpLoad,
  runHttpLoadSamples,
  runPacedLoad,
} from '../http-load.js';
import { startHttpChild } from '../http-child.js';
import type { RunningPeer } from '../process.js';
import { canPin, freePort } from '../process.js';
import { cell, markdownTable, table, updateResultsReadme, writeResultJson } from '../report.js';
import { ratio } from '../stats.js';
import type { HttpFixture } from '../provider-fixture.js';
import { registrationBody } from '../provider-fixture.js';

interface Args {
  seconds: number;
  connections: number;
  registrations: number;
  accounts: number;
  prekeys: number;
  rate: number;
  rounds: number;
  dialects: DialectName[];
  keep: boolean;
  /** Print only: no results file, no README section (trial runs). */
  noSave: boolean;
}

/** The targets of issue 5. */
const GOAL = { ratio: 0.5, p99Ms: 10, dialect: 'sqlite' } as const;

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seconds: 10,
    connections: 10,
    registrations: 1000,
    accounts: 200,
    prekeys: 1000,
    rate: 1000,
    rounds: 2,
    dialects: ['sqlite', 'postgres'],
    keep: false,
    noSave: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--seconds') args.seconds = Number(v());
    else if (a === '--connections') args.connections = Number(v());
    else if (a === '--registrations') args.registrations = Number(v());
    else if (a === '--accounts') args.accounts = Number(v());
    else if (a === '--prekeys') args.prekeys = Number(v());
    else if (a === '--rate') args.rate = Number(v());
    else if (a === '--rounds') args.rounds = Math.max(1, Math.floor(Number(v())));
    else if (a === '--dialects') args.dialects = v().split(',') as DialectName[];
    else if (a === '--keep') args.keep = true;
    else if (a === '--no-save') args.noSave = true;
    else throw new Error(`unknown option ${a}`);
  }
  for (const d of args.dialects)
    if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown dialect ${d}`);
  return args;
}

interface Row {
  dialect: DialectName;
  operation: string;
  provider?: HttpLoadResult;
  bare?: HttpLoadResult;
  error?: string;
}

/** Runs `provider` and `bare` `rounds` times, alternating which goes first, and merges each. */
async function alternate(
  rounds: number,
  provider: () => Promise<HttpLoadRun>,
  bare: () => Promise<HttpLoadRun>,
): Promise<{ provider: HttpLoadResult; bare: HttpLoadResult }> {
  const p: HttpLoadRun[] = [];
  const b: HttpLoadRun[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      b.push(await bare());
      p.push(await provider());
    } else {
      p.push(await provider());
      b.push(await bare());
    }
  }
  return { provider: mergeHttpLoads(p), bare: mergeHttpLoads(b) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
  const serverCpu = pin ? 0 : undefined;
  const work = mkdtempSync(join(tmpdir(), 'sb-bench-provider-'));
  const started = new Date();
  const load0 = loadavg();
  console.log(
    `provider API benchmark: ${args.seconds}s bundle runs, ${args.registrations} registrations, ${args.connections} connections; work dir ${work}`,
  );
  console.log(
    pin
      ? 'servers pinned to CPU 0, autocannon (this process) to CPU 1'
      : 'taskset unavailable: nothing pinned',
  );

  const rows: Row[] = [];
  for (const dialect of args.dialects) {
    let provider: { peer: RunningPeer; fixture: HttpFixture } | undefined;
    let bare: { peer: RunningPeer; fixture: HttpFixture } | undefined;
    const bundleRow: Row = { dialect, operation: 'bundle fetch' };
    const rateRow: Row = { dialect, operation: `bundle fetch at ${args.rate}/s` };
    const registerRow: Row = { dialect, operation: 'registration' };
    let warmupFetches = 0;
    rows.push(bundleRow, rateRow, registerRow);
    try {
      const pPort = await freePort();
      console.log(
        `\n[${dialect}] starting the provider API and registering ${args.accounts} accounts, ${args.registrations} verified sessions...`,
      );
      provider = await startHttpChild(
        `provider-${dialect}`,
        join(work, `provider-${dialect}`),
        [
          'provider',
          dialect,
          String(pPort),
          join(work, `provider-${dialect}`),
          String(args.accounts),
          String(args.registrations),
          String(args.prekeys),
        ],
        pPort,
        serverCpu,
      );
      const bPort = await freePort();
      bare = await startHttpChild(
        `bare-${dialect}`,
        join(work, `bare-${dialect}`),
        [
          'bare',
          String(bPort),
          join(work, `bare-${dialect}`),
          String(provider.fixture.bundleBytes),
        ],
        bPort,
        serverCpu,
      );
      const targets = provider.fixture.bundleTargets;

      // Both fetch the same target ids in the same order over as many connections.
      const bundle =
        (server: RunningPeer, url: string, prefix: string, overallRate?: number) =>
        (): Promise<HttpLoadRun> =>
          runHttpLoadSamples({
            url,
            serverPid: server.pid,
            connections: args.connections,
            seconds: args.seconds / args.rounds,
            // The paced generator waits for due times busily, on a core of its own only.
            ...(overallRate !== undefined ? { overallRate, spinMs: pin ? 2 : 0 } : {}),
            method: 'GET',
            request: (i) => ({ path: `${prefix}${targets[i % targets.length] ?? 'x'}` }),
          });
      const providerUrl = `http://127.0.0.1:${pPort}`;
      const bareUrl = `http://127.0.0.1:${bPort}`;
      Object.assign(
        bundleRow,
        await alternate(
          args.rounds,
          bundle(provider.peer, providerUrl, '/v1/keys/bundles/'),
          bundle(bare.peer, bareUrl, '/bundle/'),
        ),
      );
      console.log(
        `[${dialect}] bundle fetch: provider ${bundleRow.provider?.rps}/s, bare ${bundleRow.bare?.rps}/s`,
      );
      // Unmeasured: warms the paced generator's own code and both servers at the rate.
      for (const [url, prefix] of [
        [providerUrl, '/v1/keys/bundles/'],
        [bareUrl, '/bundle/'],
      ] as const) {
        await runPacedLoad(
          {
            url,
            connections: args.connections,
            seconds: 1,
            spinMs: pin ? 2 : 0,
            method: 'GET',
            request: (i) => ({ path: `${prefix}${targets[i % targets.length] ?? 'x'}` }),
          },
          args.rate,
        );
      }
      warmupFetches += args.rate;
      Object.assign(
        rateRow,
        await alternate(
          args.rounds,
          bundle(provider.peer, providerUrl, '/v1/keys/bundles/', args.rate),
          bundle(bare.peer, bareUrl, '/bundle/', args.rate),
        ),
      );
      console.log(
        `[${dialect}] bundle fetch at ${args.rate}/s: provider p99 ${rateRow.provider?.p99Ms} ms, bare p99 ${rateRow.bare?.p99Ms} ms (generator late by p99 ${rateRow.provider?.sendLagP99Ms} / ${rateRow.bare?.sendLagP99Ms} ms)`,
      );
      // Every fetch should have consumed a one-time prekey of each kind (the fixture's own too).
      const fetched =
        1 + warmupFetches + (bundleRow.provider?.ok ?? 0) + (rateRow.provider?.ok ?? 0);
      if (fetched > provider.fixture.oneTimePreKeysPerKind) {
        const note = `one-time prekeys ran out (${fetched} fetches, ${provider.fixture.oneTimePreKeysPerKind} keys): raise --prekeys or --accounts`;
        bundleRow.error = rateRow.error = note;
        console.log(`[${dialect}] ${note}`);
      }

      // After the latency runs, so that the generator's heap is small while it measures.
      console.log(
        `[${dialect}] generating ${args.registrations} registration bodies (libsignal keys)...`,
      );
      const bodies = provider.fixture.sessions.map((s) => JSON.stringify(registrationBody(s, 5)));
      const register = (server: RunningPeer, url: string, path: string): Promise<HttpLoadResult> =>
        runHttpLoad({
          url,
          serverPid: server.pid,
          connections: args.connections,
          amount: bodies.length,
          method: 'POST',
          request: (i) => ({ path, body: bodies[i % bodies.length] ?? '{}' }),
        });
      registerRow.bare = await register(bare.peer, `http://127.0.0.1:${bPort}`, '/register');
      registerRow.provider = await register(
        provider.peer,
        `http://127.0.0.1:${pPort}`,
        '/v1/accounts',
      );
      console.log(
        `[${dialect}] registration: provider ${registerRow.provider.rps}/s (${registerRow.provider.non2xx} non-2xx), bare ${registerRow.bare.rps}/s`,
      );
    } catch (err) {
      bundleRow.error = rateRow.error = registerRow.error = (err as Error).message;
      console.log(`[${dialect}] FAILED: ${bundleRow.error}`);
    } finally {
      await provider?.peer.stop();
      await bare?.peer.stop();
    }
  }

  const header = [
    'dialect',
    'operation',
    'provider req/s',
    'p50 ms',
    'p99 ms',
    'CPU us/req',
    'non-2xx',
    'bare express req/s',
    'p50 ms',
    'p99 ms',
    'CPU us/req',
    'x bare',
    'x bare CPU',
  ];
  const body = rows.map((r) =>
    r.error !== undefined || !r.provider || !r.bare
      ? [
          r.dialect,
          r.operation,
          'error',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          (r.error ?? '').slice(0, 60),
        ]
      : [
          r.dialect,
          r.operation,
          cell(r.provider.rps),
          cell(r.provider.p50Ms, 1),
          cell(r.provider.p99Ms, 1),
          cell(cpuPerRequestUs(r.provider)),
          cell(r.provider.non2xx + r.provider.errors),
          cell(r.bare.rps),
          cell(r.bare.p50Ms, 1),
          cell(r.bare.p99Ms, 1),
          cell(cpuPerRequestUs(r.bare)),
          // At a fixed rate both answer the same rate: latency is what counts there.
          r.provider.targetRate === undefined ? cell(ratio(r.provider.rps, r.bare.rps), 2) : '-',
          cell(cpuRatio(r.provider, r.bare), 2),
        ],
  );
  const goals = goalLines(rows, args.rate);
  const load1 = loadavg();
  console.log(`\n${LEGEND}`);
  console.log(table([header, ...body]));
  console.log(`\n${goals.join('\n')}`);
  console.log(
    `load average: ${load0.map((l) => l.toFixed(2)).join(' ')} at start, ${load1.map((l) => l.toFixed(2)).join(' ')} at end`,
  );
  const save = (): void => {
    const resultsDir = resolve(import.meta.dirname, '../../../results');
    const file = writeResultJson(
      resultsDir,
      'provider',
      {
        benchmark: 'provider',
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        options: args,
        environment: {
          node: process.version,
          pinned: pin,
          loadavgAtStart: load0,
          loadavgAtEnd: load1,
        },
        rows,
        goals,
      },
      started,
    );
    updateResultsReadme(
      resultsDir,
      'provider',
      [
        `## provider API: ${started.toISOString()}`,
        '',
        `Bundle fetch: ${args.seconds}s as fast as answered, then ${args.seconds}s at ${args.rate} req/s, each in ${args.rounds} slices alternating provider and bare, over ${args.accounts} accounts with ${args.prekeys} one-time prekeys of each kind (every fetch consumes one of each); registration: ${args.registrations} registrations with real libsignal keys (5 EC + 5 Kyber one-time prekeys). ${args.connections} connections; ${pin ? 'server on CPU 0, autocannon on CPU 1' : 'not pinned'}; load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start, ${load1.map((l) => l.toFixed(1)).join(' ')} at end.`,
        '',
        markdownTable([header, ...body]),
        '',
        `${LEGEND}.`,
        '',
        ...goals.map((g) => `- ${g}`),
        '',
        `Full data: \`${file.slice(resultsDir.length + 1)}\`.`,
      ].join('\n'),
    );
    console.log(`\nresults: ${file}`);
  };
  if (!args.noSave) save();
  if (args.keep) console.log(`work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

const LEGEND =
  'Provider API on loopback; x bare = provider req/s / bare express req/s, same run; CPU us/req = CPU time of the server process (all threads, not PostgreSQL itself) per 2xx response; x bare CPU = bare CPU us/req / provider CPU us/req, the throughput ratio of two CPU-bound servers, not skewed by other load on the machine';

/** Bare CPU per request over the provider's (what `x bare` is when both are CPU-bound). */
function cpuRatio(provider: HttpLoadResult, bare: HttpLoadResult): number | undefined {
  const p = cpuPerRequestUs(provider);
  const b = cpuPerRequestUs(bare);
  return p === undefined || b === undefined || p === 0 ? undefined : b / p;
}

/** Whether the issue-5 goals are met, one line each (PostgreSQL for reference). */
function goalLines(rows: readonly Row[], rate: number): string[] {
  const find = (dialect: DialectName, fixed: boolean): Row | undefined =>
    rows.find(
      (r) =>
        r.dialect === dialect &&
        r.operation.startsWith('bundle fetch') &&
        (r.provider?.targetRate !== undefined) === fixed &&
        r.error === undefined,
    );
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const lines: string[] = [];
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const label = dialect === GOAL.dialect ? 'goal' : 'for reference';
    const free = find(dialect, false);
    if (free?.provider && free.bare) {
      const x = ratio(free.provider.rps, free.bare.rps) ?? 0;
      const cpu = cpuRatio(free.provider, free.bare);
      lines.push(
        `${label}: ${dialect} bundle fetch at least ${GOAL.ratio}x bare express: ${x.toFixed(2)}x, ${verdict(x >= GOAL.ratio)}${cpu === undefined ? '' : ` (by CPU per request: ${cpu.toFixed(2)}x, ${verdict(cpu >= GOAL.ratio)})`}`,
      );
    }
    const fixed = find(dialect, true)?.provider;
    if (fixed) {
      // The rate must actually have been served, or the latency says nothing.
      const served = fixed.rps >= 0.95 * rate;
      lines.push(
        `${label}: ${dialect} bundle fetch p99 under ${GOAL.p99Ms} ms at ${rate} req/s: ${fixed.p99Ms} ms at ${fixed.rps} req/s served, ${verdict(served && fixed.p99Ms < GOAL.p99Ms)}`,
      );
    }
  }
  return lines;
}

main().catch((err: unknown) => {
  console.error(`provider benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
