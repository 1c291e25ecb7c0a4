import { readFile, readdir } from 'node:fs/promises';
import { dirname } from 'node:path';

// The README's layout table names every source file (a row `core/errors.ts`, `encoding.ts`
// names both), and no folder of src/ grows past a dozen files.
const root = new URL('../../', import.meta.url);

async function sourceFiles(): Promise<string[]> {
  const entries = await readdir(new URL('src/', root), { recursive: true });
  return entries.filter((f) => f.endsWith('.ts')).map((f) => f.split('\\').join('/'));
}

/** The first cell of each row of the README's layout table: the files it names, with folder. */
async function mappedFiles(): Promise<Set<string>> {
  const readme = await readFile(new URL('README.md', root), 'utf8');
  const section = readme.split('## Layout')[1]?.split('\n## ')[0] ?? '';
  const mapped = new Set<string>();
  for (const line of section.split('\n')) {
    const cell = /^\| ([^|]+)\|/.exec(line)?.[1];
    if (!cell) continue;
    const names = [...cell.matchAll(/`([^`]+\.ts)`/g)].map((m) => m[1] ?? '');
    const folder = names[0]?.includes('/') ? dirname(names[0]) : '.';
    for (const name of names) mapped.add(name.includes('/') ? name : `${folder}/${name}`);
  }
  return mapped;
}

describe('provider-api layout', () => {
  it('maps every source file in the README', async () => {
    const mapped = await mappedFiles();
    const files = await sourceFiles();
    const unmapped = files.filter((f) => !mapped.has(f.includes('/') ? f : `./${f}`));
    expect(unmapped).toEqual([]);
    const missing = [...mapped]
      .map((f) => f.replace(/^\.\//, ''))
      .filter((f) => !files.includes(f));
    expect(missing).toEqual([]);
  });

  it('keeps every folder of src/ at 12 files or fewer', async () => {
    const perFolder = new Map<string, number>();
    for (const f of await sourceFiles()) {
      perFolder.set(dirname(f), (perFolder.get(dirname(f)) ?? 0) + 1);
    }
    const crowded = [...perFolder].filter(([, n]) => n > 12);
    expect(crowded).toEqual([]);
  });
});
