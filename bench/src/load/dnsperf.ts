// Running dnsperf and reading what it prints. With `-v` dnsperf prints one line per answered
// query (`> NOERROR <name> <type> <seconds>`), from which we derive percentiles.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LatencySummary } from './stats.js';
import { summarise } from './stats.js';
import { runTimed } from './process.js';

export interface DnsperfSummary {
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly qps: number;
  readonly avgLatencyMs: number;
  readonly runSeconds: number;
  /** Response code name -> count, e.g. { NOERROR: 1000 }. */
  readonly rcodes: Readonly<Record<string, number>>;
  readonly avgResponseBytes: number;
}

export class DnsperfOutputError extends Error {
  override readonly name = 'DnsperfOutputError';
}

function field(text: string, label: string): string {
  const m = new RegExp(`^\\s*${label.replace(/[()]/g, '\\$&')}:\\s*(.+)$`, 'm').exec(text);
  if (!m?.[1]) throw new DnsperfOutputError(`dnsperf output has no "${label}" line`);
  return m[1].trim();
}

function leadingNumber(text: string, label: string): number {
  const n = Number.parseFloat(text);
  if (!Number.isFinite(n)) throw new DnsperfOutputError(`dnsperf "${label}" is not a number`);
  return n;
}

/** Parses dnsperf's closing statistics block. */
export function parseDnsperfSummary(text: string): DnsperfSummary {
  const rcodes: Record<string, number> = {};
  const rc = /^\s*Response codes:\s*(.+)$/m.exec(text)?.[1] ?? '';
  for (const m of rc.matchAll(/([A-Z]+) (\d+) \(/g)) rcodes[m[1] as string] = Number(m[2]);
  const sent = leadingNumber(field(text, 'Queries sent'), 'Queries sent');
  const completed = leadingNumber(field(text, 'Queries completed'), 'Queries completed');
  const sizes = /response (\d+)/.exec(field(text, 'Average packet size'));
  return {
    sent,
    completed,
    lost: leadingNumber(field(text, 'Queries lost'), 'Queries lost'),
    qps: leadingNumber(field(text, 'Queries per second'), 'Queries per second'),
    avgLatencyMs: leadingNumber(field(text, 'Average Latency (s)'), 'Average Latency') * 1000,
    runSeconds: leadingNumber(field(text, 'Run time (s)'), 'Run time'),
    rcodes,
    avgResponseBytes: sizes?.[1] ? Number(sizes[1]) : Number.NaN,
  };
}

/** One `-v` line: `> NOERROR 1.2.e164.switchboard.test. NAPTR 0.000517`; undefined otherwise. */
export function parseVerboseLine(
  line: string,
): { rcode: string; name: string; type: string; seconds: number } | undefined {
  if (!line.startsWith('> ')) return undefined;
  const parts = line.slice(2).trim().split(/\s+/);
  if (parts.length < 4) return undefined;
  const seconds = Number(parts[parts.length - 1]);
  if (!Number.isFinite(seconds)) return undefined;
  return { rcode: parts[0] as string, name: parts[1] as string, type: parts[2] as string, seconds };
}

export interface DnsperfRun {
  readonly summary: DnsperfSummary;
  readonly latency: LatencySummary;
  /** Latency of the queries for published numbers / unpublished numbers. */
  readonly latencyExisting: LatencySummary;
  readonly latencyMissing: LatencySummary;
}

export interface DnsperfOptions {
  readonly port: number;
  readonly queryFile: string;
  readonly seconds: number;
  readonly outputFile: string;
  readonly cpu?: number;
  /** Sockets (`-c`); default 8. */
  readonly clients?: number;
  /** Outstanding queries (`-q`); default 200. */
  readonly outstanding?: number;
  /** Rate cap (`-Q`): measures latency below saturation instead of throughput. */
  readonly maxQps?: number;
  /** Which lower-cased absolute names are published numbers (a Set or a predicate), to split latency by class. */
  readonly existingNames: { has(name: string): boolean };
}

/** Runs dnsperf (DO bit set) for `seconds` against 127.0.0.1:`port` and parses its output. */
export async function runDnsperf(options: DnsperfOptions): Promise<DnsperfRun> {
  const args = [
    '-s',
    '127.0.0.1',
    '-p',
    String(options.port),
    '-d',
    options.queryFile,
    '-D',
    '-l',
    String(options.seconds),
    '-c',
    String(options.clients ?? 8),
    '-q',
    String(options.outstanding ?? 200),
    '-t',
    '2',
    ...(options.maxQps !== undefined ? ['-Q', String(options.maxQps)] : []),
    '-v',
  ];
  const { code } = await runTimed('dnsperf', args, {
    logFile: options.outputFile,
    ...(options.cpu !== undefined ? { cpu: options.cpu } : {}),
  });
  if (code !== 0)
    throw new DnsperfOutputError(`dnsperf exited with ${code}; see ${options.outputFile}`);
  const all: number[] = [];
  const existing: number[] = [];
  const missing: number[] = [];
  const tail: string[] = [];
  const lines = createInterface({
    input: createReadStream(options.outputFile),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    const q = parseVerboseLine(line);
    if (q === undefined) {
      tail.push(line);
      continue;
    }
    all.push(q.seconds);
    let name = q.name.toLowerCase();
    if (!name.endsWith('.')) name += '.';
    (options.existingNames.has(name) ? existing : missing).push(q.seconds);
  }
  return {
    summary: parseDnsperfSummary(tail.join('\n')),
    latency: summarise(all),
    latencyExisting: summarise(existing),
    latencyMissing: summarise(missing),
  };
}
