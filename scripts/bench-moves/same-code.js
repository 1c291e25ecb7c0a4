// `bench-moves.js same-code <base-dir> <head-dir> <commit>`: whether a move changed any compiled
// code. Every src/*.ts file the commit touched (renames followed, as `git diff -M` sees them) is
// looked up as <part>/dist/src/....js in both prepared trees and compared once module specifiers
// (string literals ending in .js), comments and whitespace are set aside and import/export-from
// statements are compared by the names they bring in. Prints the files that
// still differ; exit code 1 when any does.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

const IMPORT = /\b(?:import|export)\b[^;'"]*?\bfrom\s*'M'\s*;|\bimport\s*'M'\s*;/g;

/**
 * A compiled file without comments, whitespace and module specifiers, its import and export-from
 * statements taken out and replaced by the sorted names they bring in (a move may regroup them).
 */
function normalise(text) {
  const plain = text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
    .replace(/(['"])[^'"\n]*\.js\1/g, "'M'")
    .replace(/\s+/g, ' ')
    .replace(/\s*,?\s*([}\]])/g, '$1');
  const names = (plain.match(IMPORT) ?? [])
    .flatMap((statement) =>
      statement.replace(/'M'|\b(import|export|from|type)\b/g, ' ').split(/[^\w$]+/),
    )
    .filter(Boolean)
    .sort();
  return `${names.join(',')}\n${plain.replace(IMPORT, '')}`;
}

/** src/x.ts of a part -> <part>/dist/src/x.js (every part compiles with rootDir "."). */
function distPath(path) {
  const m = /^(.*?)\/src\/(.*)\.ts$/.exec(path);
  return m && !path.endsWith('.d.ts') ? join(m[1], 'dist', 'src', `${m[2]}.js`) : undefined;
}

export function sameCode(args) {
  const [baseDir, headDir, commit] = args;
  if (!commit) throw new Error('usage: same-code <base-dir> <head-dir> <commit>');
  const out = execFileSync('git', ['diff', '-M', '--name-status', `${commit}^`, commit], {
    cwd: root,
    encoding: 'utf8',
  });
  const counts = { same: 0, differ: 0, notBuilt: 0 };
  for (const line of out.trim().split('\n')) {
    const [status, from, to = from] = line.split('\t');
    if (status.startsWith('A') || status.startsWith('D')) continue;
    const [a, b] = [distPath(from), distPath(to)];
    if (!a || !b) continue;
    const [fa, fb] = [join(resolve(baseDir), a), join(resolve(headDir), b)];
    if (!existsSync(fa) || !existsSync(fb)) {
      counts.notBuilt++;
      continue;
    }
    if (normalise(readFileSync(fa, 'utf8')) === normalise(readFileSync(fb, 'utf8'))) counts.same++;
    else {
      counts.differ++;
      console.log(`differs: ${from} -> ${to}`);
    }
  }
  console.log(
    `${commit}: ${counts.same} compiled files the same, ${counts.differ} differ, ${counts.notBuilt} not built in both trees`,
  );
  if (counts.differ > 0) process.exitCode = 1;
}
