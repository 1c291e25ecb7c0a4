#!/usr/bin/env node
// Same-run A/B of two whole-tree builds of the repository (a file move's parent and the move
// itself, issue 18), measured in CPU time of the measured server process per operation, read
// from /proc/<pid>/stat, so the machine's load slows a run but moves the figures far less. Each
// round runs base then head (odd rounds head then base): directory and provider against servers
// that stay up for the whole run, bridge as a whole bridge-bench run per side; the report gives CPU ms per 1,000 operations per build (median of the rounds) and
// head/base (median of the per-round ratios, with their range). See bench/results/layout-moves.md.
//
//   node scripts/bench-moves.js prepare <git-ref> <dir> <project ...>   # e.g. directory, bench
//   node scripts/bench-moves.js directory --base <dir> --head <dir> [--count 20000]
//        [--queries 20000] [--rounds 5] [--restart] [--work /tmp/...]
//   node scripts/bench-moves.js provider --base <dir> --head <dir> [--requests 3000] [--rounds 5]
//        [--work /tmp/...]
//   node scripts/bench-moves.js bridge --base <dir> --head <dir> [--rounds 3] [--seconds 3]
//   node scripts/bench-moves.js same-code <base-dir> <head-dir> <commit>   # compiled code moved?
//
// `prepare` extracts <ref> with git archive into <dir>, links every node_modules entry to this
// checkout's (and @switchboard/* to the parts inside <dir>) and compiles the named projects with
// this checkout's TypeScript. `directory` seeds one SQLite store per build with the bench zone
// (bench/dist of this checkout writes the numbers; rows inserted as the bench of that time did,
// after the build's own migrations), starts each build's directory/dist/src/service.js in a child
// (RRL off), waits until /healthz says warm, then sends each round's query files with dnsperf
// (-n 1: every line once, DO bit) and reads the child's CPU time before and after; with
// `--restart`, a fresh pair of server processes each round (each after a warm-up pass). `provider`
// starts each build's own bench child (bench/dist/src/cli/http-server.js provider sqlite) and
// sends signed bundle fetches (that build's fixture) with the head tree's load generator.
// `bridge` runs each tree's own bridge bench (Prosody, Kamailio: Debian packages) alternately
// and reads the bridge process's CPU us per message per bridged path from its results JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..');

/** git archive of `ref` into `dir`, node_modules linked to this checkout's, `projects` compiled. */
function prepare(ref, dir, projects) {
  const target = resolve(dir);
  if (existsSync(target)) throw new Error(`${target} exists; give a new directory`);
  mkdirSync(join(target, 'node_modules', '@switchboard'), { recursive: true });
  const tar = execFileSync('git', ['archive', ref], { cwd: root, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', target], { input: tar, maxBuffer: 1 << 30 });
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === '@switchboard' || entry.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', entry), join(target, 'node_modules', entry));
  }
  const parts = join(root, 'node_modules', '@switchboard');
  for (const name of readdirSync(parts)) {
    const rel = readlinkSync(join(parts, name)); // ../../packages/db: the same place in <dir>
    if (!existsSync(join(target, 'node_modules', '@switchboard', rel))) continue;
    symlinkSync(rel, join(target, 'node_modules', '@switchboard', name));
    const own = join(parts, rel, 'node_modules'); // a dependency version other parts do not share
    const there = join(target, 'node_modules', '@switchboard', rel, 'node_modules');
    if (existsSync(own) && !existsSync(there)) symlinkSync(resolve(own), there);
  }
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const dirs = projects.map((p) => join(target, p));
  execFileSync(process.execPath, [tsc, '-b', ...dirs], { stdio: 'inherit' });
  const commit = execFileSync('git', ['rev-parse', ref], { cwd: root }).toString().trim();
  console.log(`${ref} (${commit}) built in ${target}: ${projects.join(', ')}`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'prepare') {
  if (rest.length < 3) throw new Error('usage: prepare <git-ref> <dir> <project ...>');
  prepare(rest[0], rest[1], rest.slice(2));
} else if (command === 'directory') {
  const { runDirectory } = await import('./bench-moves/directory.js');
  await runDirectory(rest);
} else if (command === 'provider') {
  const { runProvider } = await import('./bench-moves/provider.js');
  await runProvider(rest);
} else if (command === 'bridge') {
  const { runBridge } = await import('./bench-moves/bridge.js');
  await runBridge(rest);
} else if (command === 'same-code') {
  const { sameCode } = await import('./bench-moves/same-code.js');
  sameCode(rest);
} else {
  throw new Error(
    'usage: bench-moves.js prepare|directory|provider|bridge|same-code ... (see the header)',
  );
}
