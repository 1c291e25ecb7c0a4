// `bench-moves.js provider`: two provider-api builds side by side, each started by its own
// tree's bench child (bench/dist/src/cli/http-server.js provider sqlite: the real provider API
// on a fresh SQLite file, rate limits lifted, askers registered), sent signed bundle fetches.
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { option, processCpuMs, summarise } from './common.js';

const SIDES = ['base', 'head'];
const benchModule = (build, p) =>
  import(pathToFileURL(join(resolve(build), 'bench', 'dist', 'src', p)).href);

async function startProvider(side, build, work, accounts, prekeys) {
  const { startHttpChild } = await benchModule(build, 'http-child.js');
  const { freePort } = await benchModule(build, 'process.js');
  const port = await freePort();
  const dir = join(work, side);
  const argv = ['provider', 'sqlite', String(port), dir, String(accounts), '1', String(prekeys)];
  const { peer, fixture } = await startHttpChild(`provider-${side}`, dir, argv, port, undefined);
  console.log(`${side}: provider up (pid ${peer.pid}, port ${port})`);
  return { peer, fixture, url: `http://127.0.0.1:${port}` };
}

/** One slice of `amount` signed bundle fetches; the server's CPU ms per 1,000 requests. */
async function slice(load, server, amount, connections) {
  const requests = new load.SignedBundleRequests(
    server.fixture.askers,
    server.fixture.bundleTargets,
    amount,
  );
  const cpu0 = processCpuMs(server.peer.pid);
  const run = await load.runHttpLoad({
    url: server.url,
    connections,
    amount,
    method: 'GET',
    request: (i) => requests.at(i),
  });
  const cpu1 = processCpuMs(server.peer.pid);
  load.requireAll2xx('bundle fetch', run);
  return { cpuPer1000: ((cpu1 - cpu0) * 1000) / run.ok, ok: run.ok };
}

export async function runProvider(args) {
  const builds = { base: option(args, '--base'), head: option(args, '--head') };
  if (!builds.base || !builds.head) throw new Error('--base <dir> and --head <dir> are required');
  const amount = Number(option(args, '--requests', '3000'));
  const rounds = Number(option(args, '--rounds', '5'));
  const connections = Number(option(args, '--connections', '10'));
  const accounts = 50;
  // Every fetch takes one one-time prekey of each kind: enough for all rounds and the warm-up.
  const prekeys = Math.ceil(((rounds + 1) * amount) / accounts) + 100;
  const work = resolve(option(args, '--work', `/tmp/hb-layoutab-provbench-${process.pid}`));
  // The load generator and the request signer: the head tree's bench (same for both servers).
  const load = {
    ...(await benchModule(builds.head, 'http-load.js')),
    ...(await benchModule(builds.head, 'signed-requests.js')),
  };
  const servers = {};
  try {
    for (const side of SIDES)
      servers[side] = await startProvider(side, builds[side], work, accounts, prekeys);
    const samples = { base: [], head: [] };
    const loads = [loadavg()[0]];
    for (let r = 0; r <= rounds; r++) {
      const order = r % 2 === 0 ? SIDES : [...SIDES].reverse();
      for (const side of order) {
        const s = await slice(load, servers[side], amount, connections);
        console.log(
          `round ${r}${r === 0 ? ' (warm-up)' : ''} ${side}: ${s.cpuPer1000.toFixed(1)} CPU ms / 1000 fetches (${s.ok} 2xx)`,
        );
        if (r > 0) samples[side].push(s.cpuPer1000);
      }
      loads.push(loadavg()[0]);
    }
    const results = [summarise('signed bundle fetch (SQLite)', samples)];
    const run = { requests: amount, rounds, connections, load1: loads.map((l) => l.toFixed(2)) };
    console.log(JSON.stringify({ ...run, base: builds.base, head: builds.head, results }, null, 2));
  } finally {
    for (const side of SIDES) await servers[side]?.peer.stop();
  }
}
