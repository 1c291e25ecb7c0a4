// Provider API benchmark (issue 3, priority 2; goals of issue 5): prekey-bundle fetch and
// registration through the real provider API on SQLite and PostgreSQL, each against a bare
// express handler measured in the same run (served like the provider, through service-kit's
// expressServer, and as express apps usually are, by http.createServer), plus bundle fetches at
// a fixed rate for latency.
// See bench/README.md.
//   npm run bench:provider -w bench -- [--seconds 10] [--connections 10] [--registrations 1000]
//     [--accounts 200] [--prekeys 1000] [--rate 1000] [--rounds 2] [--dialects sqlite,postgres]
//     [--keep] [--no-save]
// Bundle runs are split into --rounds slices, provider and the two baselines taking turns (which
// goes first rotates), so that load from elsewhere on the machine hits both alike; rates are over
// the summed time, percentiles over every 2xx response of all slices.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DialectName } from '@switchboard/db';
import type { HttpLoadResult, HttpLoadRun } from '../http-load.js';
import { mergeHttpLoads, runHttpLoad, runHttpLoadSamples, runPacedLoad } from '../http-load.js';
import { startHttpChild } from '../http-child.js';
import type { RunningPeer } from '../process.js';
import { canPin, freePort } from '../process.js';
import { markdownTable, table, updateResultsReadme, writeResultJson } from '../report.js';
import type { ProviderRow } from '../provider-report.js';
import { PROVIDER_LEGEND, providerGoalLines, providerTable } from '../provider-report.js';
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

type Row = ProviderRow;
type Server = 'provider' | 'bare' | 'plain';
const SERVERS: readonly Server[] = ['provider', 'bare', 'plain'];

/**
 * Runs each server's load `rounds` times, rotating which goes first (round r starts with
 * server r mod 3), and merges each server's slices.
 */
async function alternate(
  rounds: number,
  load: Readonly<Record<Server, () => Promise<HttpLoadRun>>>,
): Promise<Record<Server, HttpLoadResult>> {
  const runs: Record<Server, HttpLoadRun[]> = { provider: [], bare: [], plain: [] };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < SERVERS.length; k++) {
      const s = SERVERS[(r + k) % SERVERS.length] as Server;
      runs[s].push(await load[s]());
    }
  }
  return {
    provider: mergeHttpLoads(runs.provider),
    bare: mergeHttpLoads(runs.bare),
    plain: mergeHttpLoads(runs.plain),
  };
}

/** Measures one dialect: the provider and both bare baselines, each operation a row. */
async function runDialect(
  dialect: DialectName,
  args: Args,
  work: string,
  pin: boolean,
): Promise<Row[]> {
  const serverCpu = pin ? 0 : undefined;
  const rows: Row[] = [];
  let provider: { peer: RunningPeer; fixture: HttpFixture } | undefined;
  const baselines: Partial<Record<'bare' | 'plain', RunningPeer>> = {};
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
    // The same bare app twice: served like the provider (expressServer) and by createServer.
    const urls: Record<Server, string> = {
      provider: `http://127.0.0.1:${pPort}`,
      bare: '',
      plain: '',
    };
    for (const [name, served] of [
      ['bare', 'express-server'],
      ['plain', 'create-server'],
    ] as const) {
      const port = await freePort();
      const dir = join(work, `${name}-${dialect}`);
      const args4 = [String(port), dir, String(provider.fixture.bundleBytes), served];
      baselines[name] = (
        await startHttpChild(`${name}-${dialect}`, dir, ['bare', ...args4], port, serverCpu)
      ).peer;
      urls[name] = `http://127.0.0.1:${port}`;
    }
    const peers: Record<Server, RunningPeer> = {
      provider: provider.peer,
      bare: baselines.bare as RunningPeer,
      plain: baselines.plain as RunningPeer,
    };
    const prefix = (s: Server): string => (s === 'provider' ? '/v1/keys/bundles/' : '/bundle/');
    const targets = provider.fixture.bundleTargets;

    // All fetch the same target ids in the same order over as many connections.
    const bundle = (s: Server, overallRate?: number) => (): Promise<HttpLoadRun> =>
      runHttpLoadSamples({
        url: urls[s],
        serverPid: peers[s].pid,
        connections: args.connections,
        seconds: args.seconds / args.rounds,
        // The paced generator waits for due times busily, on a core of its own only.
        ...(overallRate !== undefined ? { overallRate, spinMs: pin ? 2 : 0 } : {}),
        method: 'GET',
        request: (i) => ({ path: `${prefix(s)}${targets[i % targets.length] ?? 'x'}` }),
      });
    const each = (overallRate?: number): Record<Server, () => Promise<HttpLoadRun>> => ({
      provider: bundle('provider', overallRate),
      bare: bundle('bare', overallRate),
      plain: bundle('plain', overallRate),
    });
    Object.assign(bundleRow, await alternate(args.rounds, each()));
    console.log(
      `[${dialect}] bundle fetch: provider ${bundleRow.provider?.rps}/s, bare (expressServer) ${bundleRow.bare?.rps}/s, plain (createServer) ${bundleRow.plain?.rps}/s`,
    );
    // Unmeasured: warms the paced generator's own code and every server at the rate.
    for (const s of SERVERS) {
      await runPacedLoad(
        {
          url: urls[s],
          connections: args.connections,
          seconds: 1,
          spinMs: pin ? 2 : 0,
          method: 'GET',
          request: (i) => ({ path: `${prefix(s)}${targets[i % targets.length] ?? 'x'}` }),
        },
        args.rate,
      );
    }
    warmupFetches += args.rate;
    Object.assign(rateRow, await alternate(args.rounds, each(args.rate)));
    console.log(
      `[${dialect}] bundle fetch at ${args.rate}/s: p99 provider ${rateRow.provider?.p99Ms} ms, bare ${rateRow.bare?.p99Ms} ms, plain ${rateRow.plain?.p99Ms} ms (generator late by p99 ${rateRow.provider?.sendLagP99Ms} / ${rateRow.bare?.sendLagP99Ms} / ${rateRow.plain?.sendLagP99Ms} ms)`,
    );
    // Every fetch should have consumed a one-time prekey of each kind (the fixture's own too).
    const fetched = 1 + warmupFetches + (bundleRow.provider?.ok ?? 0) + (rateRow.provider?.ok ?? 0);
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
    const register = (s: Server): Promise<HttpLoadResult> =>
      runHttpLoad({
        url: urls[s],
        serverPid: peers[s].pid,
        connections: args.connections,
        amount: bodies.length,
        method: 'POST',
        request: (i) => ({
          path: s === 'provider' ? '/v1/accounts' : '/register',
          body: bodies[i % bodies.length] ?? '{}',
        }),
      });
    registerRow.bare = await register('bare');
    registerRow.plain = await register('plain');
    registerRow.provider = await register('provider');
    console.log(
      `[${dialect}] registration: provider ${registerRow.provider.rps}/s (${registerRow.provider.non2xx} non-2xx), bare ${registerRow.bare.rps}/s, plain ${registerRow.plain.rps}/s`,
    );
  } catch (err) {
    bundleRow.error = rateRow.error = registerRow.error = (err as Error).message;
    console.log(`[${dialect}] FAILED: ${bundleRow.error}`);
  } finally {
    await provider?.peer.stop();
    await baselines.bare?.stop();
    await baselines.plain?.stop();
  }
  return rows;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
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
  for (const dialect of args.dialects) rows.push(...(await runDialect(dialect, args, work, pin)));

  const [header, ...body] = providerTable(rows);
  const goals = providerGoalLines(rows, args.rate);
  const load1 = loadavg();
  console.log(`\n${PROVIDER_LEGEND}`);
  console.log(table([header ?? [], ...body]));
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
        `Bundle fetch: ${args.seconds}s as fast as answered, then ${args.seconds}s at ${args.rate} req/s, each in ${args.rounds} slices taking turns between the provider, bare express through expressServer and bare express through http.createServer, over ${args.accounts} accounts with ${args.prekeys} one-time prekeys of each kind (every fetch consumes one of each); registration: ${args.registrations} registrations with real libsignal keys (5 EC + 5 Kyber one-time prekeys). ${args.connections} connections; ${pin ? 'server on CPU 0, autocannon on CPU 1' : 'not pinned'}; load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start, ${load1.map((l) => l.toFixed(1)).join(' ')} at end.`,
        '',
        markdownTable([header ?? [], ...body]),
        '',
        `${PROVIDER_LEGEND}.`,
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

main().catch((err: unknown) => {
  console.error(`provider benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
