import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cell,
  markdownTable,
  saveBenchRun,
  table,
  updateResultsReadme,
  writeResultJson,
} from '../src/report/report.js';

describe('result files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-bench-report-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces only its own section of results/README.md', () => {
    writeFileSync(join(dir, 'README.md'), '# R\n\nhand-written notes\n');
    updateResultsReadme(dir, 'a', 'first A');
    updateResultsReadme(dir, 'b', 'only B');
    updateResultsReadme(dir, 'a', 'second A');
    const text = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(text).toContain('hand-written notes');
    expect(text).toContain('second A');
    expect(text).not.toContain('first A');
    expect(text).toContain('only B');
    expect(text.indexOf('second A')).toBeLessThan(text.indexOf('only B'));
  });

  it('never overwrites an earlier run of the same day', () => {
    const now = new Date('2026-11-22T01:00:00Z');
    const first = writeResultJson(dir, 'directory', { run: 1 }, now);
    const second = writeResultJson(dir, 'directory', { run: 2 }, now);
    expect(first.endsWith('directory-2026-11-22.json')).toBe(true);
    expect(second.endsWith('directory-2026-11-22-2.json')).toBe(true);
    expect(JSON.parse(readFileSync(first, 'utf8'))).toEqual({ run: 1 });
  });

  it('saves a run as JSON plus its README section, or nothing with --no-save', () => {
    const run = {
      name: 'demo',
      started: new Date('2026-11-22T01:00:00Z'),
      options: { rounds: 1 },
      environment: { node: 'v20' },
      data: { rows: [1, 2] },
      markdown: (file: string) => `table; full data: ${file}`,
    };
    expect(saveBenchRun(dir, run, true)).toBeUndefined();
    expect(() => readFileSync(join(dir, 'README.md'), 'utf8')).toThrow();
    const file = saveBenchRun(dir, run, false, new Date('2026-11-22T01:05:00Z'));
    expect(file).toBe(join(dir, 'demo-2026-11-22.json'));
    expect(JSON.parse(readFileSync(file ?? '', 'utf8'))).toEqual({
      benchmark: 'demo',
      startedAt: '2026-11-22T01:00:00.000Z',
      finishedAt: '2026-11-22T01:05:00.000Z',
      options: { rounds: 1 },
      environment: { node: 'v20' },
      rows: [1, 2],
    });
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(
      'table; full data: demo-2026-11-22.json',
    );
  });

  it('aligns tables and shows missing figures as -', () => {
    const rows = [
      ['server', 'q/s'],
      ['nsd', cell(12345.6)],
      ['ours', cell(undefined)],
    ];
    expect(table(rows).split('\n')).toEqual([
      'server     q/s',
      '------  ------',
      'nsd     12,346',
      'ours         -',
    ]);
    expect(markdownTable(rows).split('\n')[1]).toBe('| --- | ---: |');
  });
});
