import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Issue 18: every part's README maps every source file and says what its folders may import.
// `scripts/readme-maps.js` checks every part of the checkout, and that no folder of a part's
// src/ holds more than a dozen source files (this test lives here because the provider API's
// README was the first to be checked).
const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'scripts', 'readme-maps.js');

function check(dir: string): { status: number | null; lines: string[] } {
  const run = spawnSync(process.execPath, [script, '--root', dir], { encoding: 'utf8' });
  return { status: run.status, lines: run.stdout.split('\n').filter((l) => l !== '') };
}

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

describe('README maps', () => {
  it('finds every source file of every part named in its README', () => {
    expect(check(root)).toEqual({ status: 0, lines: [] });
  });

  it('reports an unmapped file, a glob, a name that does not exist and a missing import rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'readme-maps-'));
    try {
      const part = join(dir, 'packages', 'demo');
      write(join(part, 'package.json'), '{}');
      for (const f of ['index.ts', 'zone/a.ts', 'zone/b.ts', 'cli/x-bench.ts', 'cli/y.ts'])
        write(join(part, 'src', f), '');
      for (let i = 0; i < 13; i++) write(join(part, 'src', 'crowded', `f${i}.ts`), '');
      write(
        join(part, 'README.md'),
        [
          '| folder / file | what |',
          '| --- | --- |',
          "| `zone/a.ts`, `b.ts` | two files, the second in the first one's folder |",
          '| `cli/*-bench.ts`, `src/cli/y.ts` | a glob names nothing; `src/` in front is allowed |',
          '| `gone.ts` | a file that is not there |',
          '',
          '| `crowded/f0.ts`, `f1.ts`, `f2.ts`, `f3.ts`, `f4.ts`, `f5.ts`, `f6.ts` | |',
          '| `crowded/f7.ts`, `f8.ts`, `f9.ts`, `f10.ts`, `f11.ts`, `f12.ts` | |',
          '',
          'The index is `index.ts` outside any table, which does not count.',
        ].join('\n'),
      );
      expect(check(dir)).toEqual({
        status: 1,
        lines: [
          'packages/demo: src/cli/x-bench.ts not in README.md',
          'packages/demo: src/index.ts not in README.md',
          'packages/demo: README.md names src/gone.ts, which does not exist',
          'packages/demo: README.md does not say what it may import',
          'packages/demo: README.md has no "may import" column for the folders of src/',
          'packages/demo: src/crowded holds 13 source files (at most 12)',
        ],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
