// Tables for the terminal and the results files (JSON per run + a short README summary).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Renders rows as a fixed-width text table (first row = header). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  const [head, ...body] = rows;
  if (!head) return '';
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same rows as a Markdown table. */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Formats a number for a table cell; `-` when absent. */
export function cell(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `bench/results/<name>-<YYYY-MM-DD>[-n].json`, never overwriting an earlier run. */
export function writeResultJson(
  resultsDir: string,
  name: string,
  data: unknown,
  now: Date,
): string {
  mkdirSync(resultsDir, { recursive: true });
  const date = now.toISOString().slice(0, 10);
  let file = join(resultsDir, `${name}-${date}.json`);
  for (let n = 2; existsSync(file); n++) file = join(resultsDir, `${name}-${date}-${n}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Replaces (or appends) the `<!-- name:start -->...<!-- name:end -->` section of results/README.md. */
export function updateResultsReadme(resultsDir: string, name: string, markdown: string): void {
  const file = join(resultsDir, 'README.md');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${markdown.trim()}\n${end}`;
  let text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmark results\n\nLatest run of each benchmark (written by the bench scripts; the JSON files hold every run).\nThe machine is shared and noisy: compare only ratios measured in the same run.\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  text =
    i >= 0 && j > i
      ? `${text.slice(0, i)}${section}${text.slice(j + end.length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
}

/** `1.2 0.9 0.8` for a load-average triple. */
export function loadText(load: readonly number[], digits = 1): string {
  return load.map((l) => l.toFixed(digits)).join(' ');
}

/** One finished bench run, as every bench saves it. */
export interface BenchRun {
  /** Benchmark name: the JSON file's prefix and its `benchmark` field. */
  readonly name: string;
  /** The results/README.md section (default: `name`). */
  readonly section?: string;
  readonly started: Date;
  readonly options: unknown;
  readonly environment: Readonly<Record<string, unknown>>;
  /** The bench's own results, spread into the JSON after the common fields. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The README section's Markdown, given the JSON file's name relative to results/. */
  readonly markdown: (jsonFile: string) => string;
}

/**
 * The one results writer of the bench CLIs: `results/<name>-<date>.json` (never overwritten) and
 * the run's section of `results/README.md`, unless `noSave` (`--no-save`). Returns the JSON file
 * written, or undefined.
 */
export function saveBenchRun(
  resultsDir: string,
  run: BenchRun,
  noSave: boolean,
  finished = new Date(),
): string | undefined {
  if (noSave) return undefined;
  const file = writeResultJson(
    resultsDir,
    run.name,
    {
      benchmark: run.name,
      startedAt: run.started.toISOString(),
      finishedAt: finished.toISOString(),
      options: run.options,
      environment: run.environment,
      ...run.data,
    },
    run.started,
  );
  updateResultsReadme(
    resultsDir,
    run.section ?? run.name,
    run.markdown(file.slice(resultsDir.length + 1)),
  );
  return file;
}
