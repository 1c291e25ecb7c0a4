#!/usr/bin/env node
// Checks that every part's README maps its source files (issue 18): each file under <part>/src/
// is named in the first cell of a row of a README table (`folder/file.ts`; a bare `file.ts` in
// the same cell takes the folder of the name before it; `src/` in front is allowed; globs name
// nothing), every `.ts` name in such a cell exists, the README says what the part may import,
// a part whose src/ has folders says it per folder (a "may import" column), and no folder of src/
// holds more than a dozen source files (past that it wants splitting by what its files do).
//   node scripts/readme-maps.js [--root DIR]   exit 1 and one line per miss when anything is off
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';

function parts(root) {
  const tops = readdirSync(root).map((d) => join(root, d));
  const packages = existsSync(join(root, 'packages'))
    ? readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d))
    : [];
  return [...tops, ...packages].filter(
    (d) => existsSync(join(d, 'package.json')) && existsSync(join(d, 'src')),
  );
}

function sourceFiles(src, prefix = '') {
  return readdirSync(join(src, prefix)).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry}` : entry;
    return statSync(join(src, path)).isDirectory() ? sourceFiles(src, path) : [path];
  });
}

/** The files named in the first cell of every table row, with their folder. */
function mappedFiles(readme) {
  const mapped = new Set();
  for (const line of readme.split('\n')) {
    const cell = /^\|([^|]+)\|/.exec(line)?.[1];
    if (!cell) continue;
    let folder = '.';
    for (const [, token] of cell.matchAll(/`([^`]+)`/g)) {
      const name = token.replace(/^src\//, '');
      if (name.includes('*') || !/\.[a-z]+$/.test(name)) continue;
      if (name.includes('/')) folder = posix.dirname(name);
      mapped.add(name.includes('/') ? name : posix.join(folder, name));
    }
  }
  return mapped;
}

const MAX_FILES_PER_FOLDER = 12;

function countPerFolder(files) {
  const counts = new Map();
  for (const f of files.filter((name) => name.endsWith('.ts'))) {
    const folder = posix.dirname(f);
    counts.set(folder, (counts.get(folder) ?? 0) + 1);
  }
  return counts;
}

export function readmeMisses(root) {
  const misses = [];
  for (const dir of parts(root)) {
    const part = relative(root, dir).split('\\').join('/');
    const readmePath = join(dir, 'README.md');
    const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '';
    const files = sourceFiles(join(dir, 'src'));
    const mapped = mappedFiles(readme);
    for (const f of files) if (!mapped.has(f)) misses.push(`${part}: src/${f} not in README.md`);
    for (const f of mapped)
      if (f.endsWith('.ts') && !files.includes(f))
        misses.push(`${part}: README.md names src/${f}, which does not exist`);
    if (!/may import/i.test(readme))
      misses.push(`${part}: README.md does not say what it may import`);
    const folders = files.some((f) => f.includes('/'));
    if (folders && !/^\|.*\|\s*may import[^|]*\|\s*$/im.test(readme))
      misses.push(`${part}: README.md has no "may import" column for the folders of src/`);
    for (const [folder, count] of countPerFolder(files))
      if (count > MAX_FILES_PER_FOLDER)
        misses.push(
          `${part}: src/${folder} holds ${count} source files (at most ${MAX_FILES_PER_FOLDER})`,
        );
  }
  return misses;
}

if (import.meta.filename === process.argv[1]) {
  const at = process.argv.indexOf('--root');
  const root = at >= 0 ? process.argv[at + 1] : join(import.meta.dirname, '..');
  const misses = readmeMisses(root);
  for (const miss of misses) console.log(miss);
  process.exitCode = misses.length > 0 ? 1 : 0;
}
