// `bench-moves.js directory`: two directory builds side by side, queried with dnsperf.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { option, processCpuMs, summarise } from './common.js';

const root = join(import.meta.dirname, '..', '..');
const SIDES = ['base', 'head'];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

/** Writes the import file and the query files with this checkout's bench fixtures. */
async function writeInputs(work, count, queries, rounds) {
  const at = (p) => pathToFileURL(join(root, 'bench', 'dist', 'src', p)).href;
  const z = await import(at('fixtures/zone-data.js'));
  const space = z.benchSpace({ count });
  const files = { entries: join(work, 'entries.jsonl'), existing: [], mixed: [] };
  z.writeLines(files.entries, z.importLines(space));
  for (let r = 0; r <= rounds; r++) {
    // Round 0 is the warm-up. Each round's misses are names never asked before.
    const existing = join(work, `existing-${r}.txt`);
    z.writeLines(existing, z.queryLines(space, { mix: 'existing', lines: queries, seed: 7 + r }));
    const mixed = join(work, `mixed-${r}.txt`);
    const opts = { mix: 'mixed', lines: queries, seed: 7 + r, missingFrom: r * queries };
    z.writeLines(mixed, z.queryLines(space, opts));
    files.existing.push(existing);
    files.mixed.push(mixed);
  }
  return files;
}

/** Starts one build's directory child; resolves once /healthz says warm. */
async function startServer(side, build, work, entries) {
  const dir = join(work, side);
  mkdirSync(dir, { recursive: true });
  const [dnsPort, apiPort] = [await freePort(), await freePort()];
  const log = openSync(join(dir, 'child.log'), 'a');
  const childJs = join(import.meta.dirname, 'directory-child.js');
  const args = [childJs, resolve(build), dir, entries, String(dnsPort), String(apiPort)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${side} child exited; see ${dir}/child.log`);
    try {
      const res = await globalThis.fetch(`http://127.0.0.1:${apiPort}/healthz`);
      if (res.ok && (await res.json()).warm === true) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > 1_800_000) throw new Error(`${side}: not warm after 30 min`);
    await sleep(1000);
  }
  console.log(`${side}: warm after ${Math.round((Date.now() - t0) / 1000)} s (pid ${child.pid})`);
  return { child, dnsPort, dir };
}

/** One dnsperf pass over `file` (every line once, DO bit); the server's CPU ms per 1,000. */
function dnsperfPass(server, file) {
  const cpu0 = processCpuMs(server.child.pid);
  const args = ['-s', '127.0.0.1', '-p', String(server.dnsPort), '-d', file, '-D', '-n', '1'];
  const out = execFileSync('dnsperf', [...args, '-c', '8', '-q', '100', '-t', '2'], {
    encoding: 'utf8',
  });
  const cpu1 = processCpuMs(server.child.pid);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1]);
  const noerror = Number(/NOERROR (\d+)/.exec(out)?.[1] ?? 0);
  if (!(completed > 0)) throw new Error(`dnsperf: no completed queries:\n${out}`);
  return { cpuPer1000: ((cpu1 - cpu0) * 1000) / completed, completed, lost, noerror };
}

/** Stops a server child by its PID and waits for it to exit. */
async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((ok) => server.child.once('exit', ok));
  server.child.kill('SIGTERM');
  await exited;
}

/** One round: each mix through each server, in `order`; the samples unless a warm-up. */
function round(r, order, servers, files, samples, warmUp) {
  for (const mix of ['existing', 'mixed'])
    for (const side of order) {
      const s = dnsperfPass(servers[side], files[mix][r]);
      const what = `round ${r}${warmUp ? ' (warm-up)' : ''} ${mix} ${side}`;
      console.log(
        `${what}: ${s.cpuPer1000.toFixed(1)} CPU ms / 1000 queries (${s.completed} completed, ${s.lost} lost, NOERROR ${s.noerror})`,
      );
      if (!warmUp) samples[mix][side].push(s.cpuPer1000);
    }
}

/**
 * Servers up for the whole run (default), or with `restart` a fresh pair of processes each
 * round (started together, on the same stores), so that what one process happened to get (heap
 * layout, JIT decisions, when it warmed) counts as noise rather than as a build's.
 */
async function measure(builds, work, files, rounds, restart) {
  const samples = { existing: { base: [], head: [] }, mixed: { base: [], head: [] } };
  const loads = [loadavg()[0]];
  const start = async () => {
    const pair = SIDES.map((side) => startServer(side, builds[side], work, files.entries));
    const [base, head] = await Promise.all(pair);
    return { base, head };
  };
  let servers = {};
  try {
    servers = await start();
    for (let r = 0; r <= rounds; r++) {
      const order = r % 2 === 0 ? SIDES : [...SIDES].reverse();
      if (restart && r > 0) {
        for (const side of SIDES) await stopServer(servers[side]);
        servers = await start();
        round(0, order, servers, files, samples, true);
      }
      round(r, order, servers, files, samples, r === 0);
      loads.push(loadavg()[0]);
    }
  } finally {
    for (const side of SIDES) if (servers[side]) await stopServer(servers[side]);
  }
  return { samples, loads };
}

export async function runDirectory(args) {
  const builds = { base: option(args, '--base'), head: option(args, '--head') };
  if (!builds.base || !builds.head) throw new Error('--base <dir> and --head <dir> are required');
  const count = Number(option(args, '--count', '20000'));
  const queries = Number(option(args, '--queries', '20000'));
  const rounds = Number(option(args, '--rounds', '5'));
  const restart = args.includes('--restart');
  const work = resolve(option(args, '--work', `/tmp/hb-layoutab-dirbench-${process.pid}`));
  mkdirSync(work, { recursive: true });
  const files = await writeInputs(work, count, queries, rounds);
  const { samples, loads } = await measure(builds, work, files, rounds, restart);
  const results = Object.entries(samples).map(([mix, s]) =>
    summarise(`dnsperf ${mix} NAPTR +DO`, s),
  );
  const run = { count, queries, rounds, restart, load1: loads.map((l) => l.toFixed(2)) };
  console.log(JSON.stringify({ ...run, base: builds.base, head: builds.head, results }, null, 2));
}
