// `bench-moves.js bridge`: two bridge builds, each measured by its own tree's bridge bench
// (bench/dist/src/cli/bridge-bench.js: Prosody, Kamailio, the homeserver double and the bridge in
// its own process), invocations alternating base/head; per bridged path, the bridge process's CPU
// time per message during the saturation run (from /proc, as that bench reports it).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { option, summarise } from './common.js';

const SIDES = ['base', 'head'];
const BRIDGED = ['xmpp-sip', 'sip-xmpp', 'matrix-xmpp'];

/** One bridge bench run of `build`; the bridge's CPU us per message per bridged path. */
function benchOnce(build, seconds) {
  const results = join(resolve(build), 'bench', 'results');
  const before = new Set(readdirSync(results));
  const cli = join(resolve(build), 'bench', 'dist', 'src', 'cli', 'bridge-bench.js');
  const args = ['--rounds', '1', '--seconds', String(seconds), '--warmup', '1'];
  execFileSync(process.execPath, [cli, ...args, '--paced-seconds', '1'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: join(resolve(build), 'bench'),
  });
  const file = readdirSync(results).find((f) => f.startsWith('bridge-') && !before.has(f));
  if (!file) throw new Error(`no new bridge results in ${results}`);
  const runs = JSON.parse(readFileSync(join(results, file), 'utf8')).runs;
  return Object.fromEntries(BRIDGED.map((k) => [k, runs[k].bridgeCpuUsPerMsg[0]]));
}

export async function runBridge(args) {
  const builds = { base: option(args, '--base'), head: option(args, '--head') };
  if (!builds.base || !builds.head) throw new Error('--base <dir> and --head <dir> are required');
  const rounds = Number(option(args, '--rounds', '3'));
  const seconds = Number(option(args, '--seconds', '3'));
  const samples = Object.fromEntries(BRIDGED.map((k) => [k, { base: [], head: [] }]));
  const loads = [loadavg()[0]];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const side of order) {
      const cpu = benchOnce(builds[side], seconds);
      console.log(`round ${r + 1} ${side}: bridge CPU us/msg ${JSON.stringify(cpu)}`);
      // us per message -> ms per 1,000 messages (the same number).
      for (const k of BRIDGED) samples[k][side].push(cpu[k]);
    }
    loads.push(loadavg()[0]);
  }
  const results = BRIDGED.map((k) => summarise(`bridge ${k} (CPU us/msg)`, samples[k]));
  const run = { rounds, seconds, load1: loads.map((l) => l.toFixed(2)) };
  console.log(JSON.stringify({ ...run, base: builds.base, head: builds.head, results }, null, 2));
}
