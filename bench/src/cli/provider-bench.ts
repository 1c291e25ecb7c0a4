// Provider API benchmark (issue 3, priority 2): prekey-bundle fetch and registration through
// the real provider API on SQLite and PostgreSQL, each against a bare express handler measured
// in the same run. See bench/README.md.
//   npm run bench:provider -w bench -- [--seconds 10] [--connections 10] [--registrations 1000]
//     [--accounts 200] [--dialects sqlite,postgres] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DialectName } from '@switchboard/db';
import type { HttpLoadResult } from '../http-load.js';
import { runHttpLoad } from '../http-load.js';
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
  dialects: DialectName[];
  keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seconds: 10,
    connections: 10,
    registrations: 1000,
    accounts: 200,
    dialects: ['sqlite', 'postgres'],
    keep: false,
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
    else if (a === '--dialects') args.dialects = v().split(',') as DialectName[];
    else if (a === '--keep') args.keep = true;
    else throw new Error(`unknown option ${a}`);
  }
  for (const d of args.dialects)
    if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown dialect ${d}`);
  return args;
}

interface Row {
  dialect: DialectName;
  operation: 'bundle fetch' | 'registration';
  provider?: HttpLoadResult;
  bare?: HttpLoadResult;
  error?: string;
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
    const registerRow: Row = { dialect, operation: 'registration' };
    rows.push(bundleRow, registerRow);
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
      console.log(
        `[${dialect}] generating ${args.registrations} registration bodies (libsignal keys)...`,
      );
      const bodies = provider.fixture.sessions.map((s) => JSON.stringify(registrationBody(s, 5)));
      const targets = provider.fixture.bundleTargets;

      const bundle = (url: string, path: (i: number) => string): Promise<HttpLoadResult> =>
        runHttpLoad({
          url,
          connections: args.connections,
          seconds: args.seconds,
          method: 'GET',
          request: (i) => ({ path: path(i) }),
        });
      bundleRow.bare = await bundle(
        `http://127.0.0.1:${bPort}`,
        (i) => `/bundle/${targets[i % targets.length] ?? 'x'}`,
      );
      bundleRow.provider = await bundle(
        `http://127.0.0.1:${pPort}`,
        (i) => `/v1/keys/bundles/${targets[i % targets.length] ?? 'x'}`,
      );
      console.log(
        `[${dialect}] bundle fetch: provider ${bundleRow.provider.rps}/s, bare ${bundleRow.bare.rps}/s`,
      );

      const register = (url: string, path: string): Promise<HttpLoadResult> =>
        runHttpLoad({
          url,
          connections: args.connections,
          amount: bodies.length,
          method: 'POST',
          request: (i) => ({ path, body: bodies[i % bodies.length] ?? '{}' }),
        });
      registerRow.bare = await register(`http://127.0.0.1:${bPort}`, '/register');
      registerRow.provider = await register(`http://127.0.0.1:${pPort}`, '/v1/accounts');
      console.log(
        `[${dialect}] registration: provider ${registerRow.provider.rps}/s (${registerRow.provider.non2xx} non-2xx), bare ${registerRow.bare.rps}/s`,
      );
    } catch (err) {
      bundleRow.error = registerRow.error = (err as Error).message;
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
    'non-2xx',
    'bare express req/s',
    'p50 ms',
    'p99 ms',
    'x bare',
  ];
  const body = rows.map((r) =>
    r.error !== undefined || !r.provider || !r.bare
      ? [r.dialect, r.operation, 'error', '', '', '', '', '', '', (r.error ?? '').slice(0, 60)]
      : [
          r.dialect,
          r.operation,
          cell(r.provider.rps),
          cell(r.provider.p50Ms, 1),
          cell(r.provider.p99Ms, 1),
          cell(r.provider.non2xx + r.provider.errors),
          cell(r.bare.rps),
          cell(r.bare.p50Ms, 1),
          cell(r.bare.p99Ms, 1),
          cell(ratio(r.provider.rps, r.bare.rps), 2),
        ],
  );
  const load1 = loadavg();
  console.log(
    '\nProvider API on loopback (autocannon); x bare = provider req/s / bare express req/s, same run',
  );
  console.log(table([header, ...body]));
  console.log(
    `load average: ${load0.map((l) => l.toFixed(2)).join(' ')} at start, ${load1.map((l) => l.toFixed(2)).join(' ')} at end`,
  );
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
    },
    started,
  );
  updateResultsReadme(
    resultsDir,
    'provider',
    [
      `## provider API: ${started.toISOString()}`,
      '',
      `Bundle fetch: ${args.seconds}s per run over ${args.accounts} accounts (each fetch consumes one-time prekeys); registration: ${args.registrations} registrations with real libsignal keys (5 EC + 5 Kyber one-time prekeys). ${args.connections} connections; ${pin ? 'server on CPU 0, autocannon on CPU 1' : 'not pinned'}; load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start, ${load1.map((l) => l.toFixed(1)).join(' ')} at end.`,
      '',
      markdownTable([header, ...body]),
      '',
      `Full data: \`${file.slice(resultsDir.length + 1)}\`.`,
    ].join('\n'),
  );
  console.log(`\nresults: ${file}`);
  if (args.keep) console.log(`work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(`provider benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
