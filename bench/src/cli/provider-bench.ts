// Provider API benchmark (issue 3, priority 2; goals of issue 5): prekey-bundle fetch and
// registration through the real provider API on SQLite and PostgreSQL, each against a bare
// express handler measured in the same run (served like the provider, through service-kit's
// expressServer, and as express apps usually are, by http.createServer), plus bundle fetches at
// a fixed rate for latency.
// See bench/README.md.
//   npm run bench:provider -w bench -- [--seconds 10] [--connections 10] [--registrations 1000]
//     [--accounts 200] [--prekeys 1000] [--rate 1000] [--rounds 2] [--presign-rate 20000]
//     [--dialects sqlite,postgres] [--keep] [--no-save]
// Bundle fetches are signed by the registered accounts as askers (each with its device key, a
// fresh nonce per request), signed before each timed slice; the bare apps verify the same
// signatures. Any answer that is not 2xx fails the run (exit code 1).
// Bundle runs are split into --rounds slices, provider and the two baselines taking turns (which
// goes first rotates), so that load from elsewhere on the machine hits both alike; rates are over
// the summed time, percentiles over every 2xx response of all slices.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DialectName } from '@switchboard/db';
import type { HttpLoadOptions, HttpLoadResult, HttpLoadRun } from '../load/http-load.js';
import {
  mergeHttpLoads,
  requireAll2xx,
  runHttpLoad,
  runHttpLoadSamples,
} from '../load/http-load.js';
import { startHttpChild } from '../load/http-child.js';
import type { RunningPeer } from '../load/process.js';
import { canPin, freePort } from '../load/process.js';
import { parseBenchOptions } from '../cli-options.js';
import { loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import type { ProviderRow } from '../report/provider-report.js';
import { PROVIDER_LEGEND, providerGoalLines, providerTable } from '../report/provider-report.js';
import type { HttpFixture } from '../fixtures/provider-fixture.js';
import { registrationBody } from '../fixtures/provider-fixture.js';
import { SignedBundleRequests } from '../fixtures/signed-requests.js';

type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: readonly string[]) {
  const args = parseBenchOptions(
    argv,
    {
      seconds: { kind: 'number', default: 10, min: 0.1 },
      connections: { kind: 'integer', default: 10, min: 1 },
      registrations: { kind: 'integer', default: 1000, min: 1 },
      accounts: { kind: 'integer', default: 200, min: 1 },
      prekeys: { kind: 'integer', default: 1000, min: 1 },
      rate: { kind: 'number', default: 1000, min: 1 },
      /** Bundle fetches signed in advance per second of a saturation slice (per round). */
      presignRate: { kind: 'number', default: 20_000, min: 1 },
      dialects: { kind: 'list' },
    },
    2,
  );
  const dialects = (args.dialects ?? ['sqlite', 'postgres']) as DialectName[];
  for (const d of dialects)
    if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown dialect ${d}`);
  return { ...args, dialects };
}

type Row = ProviderRow;
type Server = 'provider' | 'bare' | 'plain';
const SERVERS: readonly Server[] = ['provider', 'bare', 'plain'];

/**
 * Runs each server's load `rounds` times, rotating which goes first (round r starts with
 * server r mod 3), and merges each server's slices. `load(server, round)`.
 */
async function alternate(
  rounds: number,
  load: (s: Server, round: number) => Promise<HttpLoadRun>,
): Promise<Record<Server, HttpLoadResult>> {
  const runs: Record<Server, HttpLoadRun[]> = { provider: [], bare: [], plain: [] };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < SERVERS.length; k++) {
      const s = SERVERS[(r + k) % SERVERS.length] as Server;
      runs[s].push(await load(s, r));
    }
  }
  return {
    provider: mergeHttpLoads(runs.provider),
    bare: mergeHttpLoads(runs.bare),
    plain: mergeHttpLoads(runs.plain),
  };
}

/** The three servers of one dialect, started. */
interface Servers {
  readonly peers: Record<Server, RunningPeer>;
  readonly urls: Record<Server, string>;
  readonly fixture: HttpFixture;
}

/** Starts the provider (fixture first), then both bare apps with the provider's askers. */
async function startServers(
  dialect: DialectName,
  args: Args,
  work: string,
  cpu: number | undefined,
  started: RunningPeer[],
): Promise<Servers> {
  const pPort = await freePort();
  const pDir = join(work, `provider-${dialect}`);
  const provider = await startHttpChild(
    `provider-${dialect}`,
    pDir,
    ['provider', dialect, String(pPort), pDir, String(args.accounts)].concat([
      String(args.registrations),
      String(args.prekeys),
    ]),
    pPort,
    cpu,
  );
  started.push(provider.peer);
  const peers: Partial<Record<Server, RunningPeer>> = { provider: provider.peer };
  const urls: Record<Server, string> = {
    provider: `http://127.0.0.1:${pPort}`,
    bare: '',
    plain: '',
  };
  // The same bare app twice: served like the provider (expressServer) and by createServer.
  for (const [name, served] of [
    ['bare', 'express-server'],
    ['plain', 'create-server'],
  ] as const) {
    const port = await freePort();
    const dir = join(work, `${name}-${dialect}`);
    const argv = ['bare', String(port), dir, String(provider.fixture.bundleBytes), served];
    const child = await startHttpChild(
      `${name}-${dialect}`,
      dir,
      [...argv, join(pDir, 'fixture.json')],
      port,
      cpu,
    );
    started.push(child.peer);
    peers[name] = child.peer;
    urls[name] = `http://127.0.0.1:${port}`;
  }
  return { peers: peers as Record<Server, RunningPeer>, urls, fixture: provider.fixture };
}

/**
 * Signed bundle fetches for one phase and round, shared by the three servers of that round
 * (each has its own replay cache, so each sees every signature once): signed when first asked
 * for, before the first server's timed slice starts.
 */
function signedPools(fixture: HttpFixture): (key: string, count: number) => SignedBundleRequests {
  let current: { key: string; requests: SignedBundleRequests } | undefined;
  return (key, count) => {
    if (current?.key !== key) {
      current = {
        key,
        requests: new SignedBundleRequests(fixture.askers, fixture.bundleTargets, count),
      };
    }
    return current.requests;
  };
}

/** One slice of signed bundle fetches against one server; throws unless every answer is 2xx. */
async function bundleSlice(
  what: string,
  options: Omit<HttpLoadOptions, 'method' | 'request'>,
  requests: SignedBundleRequests,
): Promise<HttpLoadRun> {
  const late = requests.signedLate;
  const run = await runHttpLoadSamples({
    ...options,
    method: 'GET',
    request: (i) => requests.at(i),
  });
  requireAll2xx(what, run);
  if (requests.signedLate > late) {
    console.log(
      `${what}: ${requests.signedLate - late} requests beyond the ${requests.size} pre-signed were signed during the run (raise --presign-rate)`,
    );
  }
  return run;
}

/** Unmeasured fetches each server answers at saturation before the timed saturation slices. */
const SATURATION_WARMUP = 3000;

/**
 * Bundle fetches at saturation (after a warm-up), then at `--rate`/s (after a warm-up), into the
 * two rows.
 */
async function measureBundles(
  dialect: DialectName,
  args: Args,
  servers: Servers,
  rows: { bundle: Row; rate: Row },
): Promise<number> {
  const pool = signedPools(servers.fixture);
  const sliceSeconds = args.seconds / args.rounds;
  const base = (s: Server) => ({
    url: servers.urls[s],
    serverPid: servers.peers[s].pid,
    connections: args.connections,
    seconds: sliceSeconds,
  });
  const saturated = Math.ceil(sliceSeconds * args.presignRate);
  // Unmeasured: each server's JIT compiles its fetch path before the first timed slice (the
  // provider's first slice otherwise paid V8's optimising compiler threads, ~20% of its CPU).
  for (const s of SERVERS) {
    const { url, serverPid, connections } = base(s);
    await bundleSlice(
      `[${dialect}] ${s} saturation warm-up`,
      { url, serverPid, connections, amount: SATURATION_WARMUP },
      pool('max warm-up', SATURATION_WARMUP),
    );
  }
  Object.assign(
    rows.bundle,
    await alternate(args.rounds, (s, r) =>
      bundleSlice(`[${dialect}] ${s} bundle fetch`, base(s), pool(`max ${r}`, saturated)),
    ),
  );
  console.log(
    `[${dialect}] bundle fetch: provider ${rows.bundle.provider?.rps}/s, bare (expressServer) ${rows.bundle.bare?.rps}/s, plain (createServer) ${rows.bundle.plain?.rps}/s`,
  );
  // The paced generator waits for due times on timers, not busily: on a shared core a spinning
  // generator is the one the scheduler makes wait (its sends late by p99 5-230 ms at load 4-5,
  // 1.4-3.8 ms on timers; docs/decisions.md). Timers cost it up to ~1 ms per send instead.
  const paced = (s: Server, seconds: number) => ({
    ...base(s),
    seconds,
    overallRate: args.rate,
  });
  // Unmeasured: warms the paced generator's own code and every server at the rate.
  for (const s of SERVERS) {
    await bundleSlice(`[${dialect}] ${s} warm-up`, paced(s, 1), pool('warm-up', args.rate));
  }
  const count = Math.round(args.rate * sliceSeconds);
  Object.assign(
    rows.rate,
    await alternate(args.rounds, (s, r) =>
      bundleSlice(
        `[${dialect}] ${s} bundle fetch at ${args.rate}/s`,
        paced(s, sliceSeconds),
        pool(`rate ${r}`, count),
      ),
    ),
  );
  const p = (x: Server): string => `${rows.rate[x]?.p99Ms} ms`;
  const lag = (x: Server): string => `${rows.rate[x]?.sendLagP99Ms}`;
  const gc = (x: Server): string => `${rows.rate[x]?.generatorGcMaxMs}`;
  console.log(
    `[${dialect}] bundle fetch at ${args.rate}/s: p99 provider ${p('provider')}, bare ${p('bare')}, plain ${p('plain')} (generator late by p99 ${lag('provider')} / ${lag('bare')} / ${lag('plain')} ms, its longest GC pause ${gc('provider')} / ${gc('bare')} / ${gc('plain')} ms)`,
  );
  return SATURATION_WARMUP + args.rate; // warm-up fetches of the provider
}

/** Registrations with real libsignal keys, one per verified session, into the row. */
async function measureRegistration(
  dialect: DialectName,
  args: Args,
  servers: Servers,
  row: Row,
): Promise<void> {
  // After the latency runs, so that the generator's heap is small while it measures.
  console.log(
    `[${dialect}] generating ${args.registrations} registration bodies (libsignal keys)...`,
  );
  const bodies = servers.fixture.sessions.map((s) => JSON.stringify(registrationBody(s, 5)));
  const register = async (s: Server): Promise<HttpLoadResult> => {
    const run = await runHttpLoad({
      url: servers.urls[s],
      serverPid: servers.peers[s].pid,
      connections: args.connections,
      amount: bodies.length,
      method: 'POST',
      request: (i) => ({
        path: s === 'provider' ? '/v1/accounts' : '/register',
        body: bodies[i % bodies.length] ?? '{}',
      }),
    });
    requireAll2xx(`[${dialect}] ${s} registration`, run);
    return run;
  };
  row.bare = await register('bare');
  row.plain = await register('plain');
  row.provider = await register('provider');
  console.log(
    `[${dialect}] registration: provider ${row.provider.rps}/s, bare ${row.bare.rps}/s, plain ${row.plain.rps}/s`,
  );
}

/** Flags the rows when the fetches could have run out of one-time prekeys. */
function checkPrekeys(
  dialect: DialectName,
  fixture: HttpFixture,
  warmup: number,
  rows: Row[],
): void {
  // Every fetch should have consumed a one-time prekey of each kind (the fixture's own too).
  const fetched = 1 + warmup + rows.reduce((n, r) => n + (r.provider?.ok ?? 0), 0);
  if (fetched <= fixture.oneTimePreKeysPerKind) return;
  const note = `one-time prekeys ran out (${fetched} fetches, ${fixture.oneTimePreKeysPerKind} keys): raise --prekeys or --accounts`;
  for (const r of rows) r.error = note;
  console.log(`[${dialect}] ${note}`);
}

/** Measures one dialect: the provider and both bare baselines, each operation a row. */
async function runDialect(
  dialect: DialectName,
  args: Args,
  work: string,
  pin: boolean,
): Promise<Row[]> {
  const bundle: Row = { dialect, operation: 'bundle fetch' };
  const rate: Row = { dialect, operation: `bundle fetch at ${args.rate}/s` };
  const registration: Row = { dialect, operation: 'registration' };
  const started: RunningPeer[] = [];
  try {
    console.log(
      `\n[${dialect}] starting the provider API and registering ${args.accounts} accounts, ${args.registrations} verified sessions...`,
    );
    const servers = await startServers(dialect, args, work, pin ? 0 : undefined, started);
    const warmup = await measureBundles(dialect, args, servers, { bundle, rate });
    checkPrekeys(dialect, servers.fixture, warmup, [bundle, rate]);
    await measureRegistration(dialect, args, servers, registration);
  } catch (err) {
    bundle.error ??= (err as Error).message;
    rate.error ??= (err as Error).message;
    registration.error = (err as Error).message;
    console.log(`[${dialect}] FAILED: ${(err as Error).message}`);
  } finally {
    for (const peer of started) await peer.stop();
  }
  return [bundle, rate, registration];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
  // On one core V8's parallel scavenges wait for helper threads that take turns with the paced
  // generator: about 2 ms each instead of 0.25 (as in the server children, http-child.ts). The
  // flag cannot be set at run time (V8 aborts if a concurrent marking is under way): `npm run
  // bench:provider` passes it.
  if (pin && !process.execArgv.includes('--single-threaded-gc')) {
    console.log('note: run with node --single-threaded-gc (npm run bench:provider does)');
  }
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
  const file = saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'provider',
      started,
      options: args,
      environment: {
        node: process.version,
        pinned: pin,
        loadavgAtStart: load0,
        loadavgAtEnd: load1,
      },
      data: { rows, goals },
      markdown: (json) =>
        [
          `## provider API: ${started.toISOString()}`,
          '',
          `Bundle fetch (GET signed by registered askers, RFC 9421 device signatures made before the timed part, every answer checked to be 2xx; bundle limits lifted): ${args.seconds}s as fast as answered, then ${args.seconds}s at ${args.rate} req/s, each in ${args.rounds} slices taking turns between the provider, bare express through expressServer and bare express through http.createServer, over ${args.accounts} accounts with ${args.prekeys} one-time prekeys of each kind (every fetch consumes one of each); registration: ${args.registrations} registrations with real libsignal keys (5 EC + 5 Kyber one-time prekeys). ${args.connections} connections; ${pin ? 'server on CPU 0, autocannon on CPU 1' : 'not pinned'}; load average ${loadText(load0)} at start, ${loadText(load1)} at end.`,
          '',
          markdownTable([header ?? [], ...body]),
          '',
          `${PROVIDER_LEGEND}.`,
          '',
          ...goals.map((g) => `- ${g}`),
          '',
          `Full data: \`${json}\`.`,
        ].join('\n'),
    },
    args.noSave,
  );
  if (file) console.log(`\nresults: ${file}`);
  if (args.keep) console.log(`work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
  const failed = rows.filter((r) => r.error !== undefined);
  if (failed.length > 0) {
    console.error(
      `\nprovider benchmark FAILED: ${failed.map((r) => `${r.dialect} ${r.operation}: ${r.error}`).join('; ')}`,
    );
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(`provider benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
