// Load on loopback: autocannon as fast as answered, or evenly paced requests at a fixed rate;
// successful requests per second and latency percentiles.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { percentile } from './stats.js';
import type { PacedOutcome, PacedSpec } from './paced.js';

export { ResponseReader } from './paced.js';

export interface HttpLoadResult {
  /** 2xx responses per second over the whole run. */
  readonly rps: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  /** How many answers of each status outside 2xx (absent when none). */
  readonly otherStatuses?: Readonly<Record<string, number>>;
  /** Latency percentiles of the 2xx responses (exact, from every response's own time). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly seconds: number;
  /** Requests per second asked for (fixed-rate runs only). */
  readonly targetRate?: number;
  /**
   * Fixed-rate runs: p99 of how late the generator wrote a request after it was due while a
   * connection was free for it (already inside the latencies, which count from the due time;
   * waits for a busy connection are not the generator's): a check on the generator itself.
   */
  readonly sendLagP99Ms?: number;
  /** Fixed-rate runs: the generator's own GC pauses during the run, in total and the longest. */
  readonly generatorGcMs?: number;
  readonly generatorGcMaxMs?: number;
  /**
   * CPU time the server process (all its threads) used during the run, when its pid was given
   * (Linux): unlike rates, not skewed by other work on the machine.
   */
  readonly serverCpuMs?: number;
}

/** A run's figures plus every 2xx latency, for merging runs (not written to results). */
export interface HttpLoadRun extends HttpLoadResult {
  readonly latenciesMs: readonly number[];
  /** Fixed-rate runs: how late each request was written (ms). */
  readonly sendLagsMs?: readonly number[];
}

/** One request of a load: path, and optionally a body and headers of its own. */
export interface HttpLoadRequest {
  readonly path: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HttpLoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Either a fixed duration (seconds) or a number of requests. */
  readonly seconds?: number;
  readonly amount?: number;
  /**
   * Fixed rate: requests per second over all connections, evenly paced (see
   * {@link runPacedLoad}); default: as fast as answered (autocannon).
   */
  readonly overallRate?: number;
  /**
   * Fixed rate: wait the last `spinMs` before each due time on `setImmediate` rather than a
   * timer (busy: only for a generator on a core of its own); default 0.
   */
  readonly spinMs?: number;
  readonly method: 'GET' | 'POST';
  /** The server's process id, to measure its CPU time during the run (Linux /proc). */
  readonly serverPid?: number;
  /** Path (body, extra headers) of the i-th request. */
  readonly request: (i: number) => HttpLoadRequest;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;

function countStatus(counts: Record<string, number>, status: number): void {
  counts[String(status)] = (counts[String(status)] ?? 0) + 1;
}

const withStatuses = (
  counts: Record<string, number>,
): { otherStatuses?: Record<string, number> } =>
  Object.keys(counts).length > 0 ? { otherStatuses: counts } : {};

/**
 * Throws unless every request of `run` was answered with a 2xx status: a benchmark of answers
 * it did not mean to measure (401, 429, ...) must not pass for one.
 */
export function requireAll2xx(what: string, run: HttpLoadResult): void {
  if (run.non2xx === 0 && run.errors === 0 && run.ok > 0) return;
  const statuses = Object.entries(run.otherStatuses ?? {})
    .map(([status, n]) => `${n} x ${status}`)
    .join(', ');
  throw new Error(
    `${what}: ${run.ok} answers 2xx, ${run.non2xx} not (${statuses || 'no status recorded'}), ${run.errors} connection errors: only successful answers may be measured`,
  );
}

/** Runs autocannon and keeps the figures the tables show. */
export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  return withoutSamples(await runHttpLoadSamples(options));
}

let clockTicks: number | undefined;

/** User + system CPU time of a process and all its threads so far (ms), or undefined. */
export function processCpuMs(pid: number): number | undefined {
  try {
    // Fields after the command name (which may contain spaces): utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

/** {@link runHttpLoad} keeping every 2xx latency too, for {@link mergeHttpLoads}. */
export async function runHttpLoadSamples(options: HttpLoadOptions): Promise<HttpLoadRun> {
  const pid = options.serverPid;
  const cpu0 = pid === undefined ? undefined : processCpuMs(pid);
  const run =
    options.overallRate !== undefined
      ? await runPacedLoad(options, options.overallRate)
      : await runAutocannon(options);
  const cpu1 = pid === undefined ? undefined : processCpuMs(pid);
  return cpu0 === undefined || cpu1 === undefined ? run : { ...run, serverCpuMs: cpu1 - cpu0 };
}

async function runAutocannon(options: HttpLoadOptions): Promise<HttpLoadRun> {
  let counter = 0;
  const latenciesMs: number[] = [];
  const other: Record<string, number> = {};
  let firstSent: number | undefined;
  let lastAnswered = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        ...(options.amount !== undefined
          ? { amount: options.amount }
          : { duration: options.seconds ?? 10 }),
        requests: [
          {
            method: options.method,
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => {
              firstSent ??= performance.now();
              const next = options.request(counter++);
              return {
                ...req,
                path: next.path,
                ...(next.headers !== undefined
                  ? { headers: { ...req.headers, ...next.headers } }
                  : {}),
                ...(next.body !== undefined ? { body: next.body } : {}),
              };
            },
          },
        ],
      },
      (err: unknown, r: autocannon.Result) => (err ? reject(err as Error) : resolve(r)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      lastAnswered = performance.now();
      if (status >= 200 && status < 300) latenciesMs.push(ms);
      else countStatus(other, status);
    });
  });
  // A run of a fixed number of requests ends on autocannon's next one-second tick: its duration
  // is rounded up to whole seconds, so time it from the first request to the last answer.
  const seconds =
    options.amount !== undefined && firstSent !== undefined && lastAnswered > firstSent
      ? Math.round(lastAnswered - firstSent) / 1000
      : result.duration;
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    rps: Math.round(result['2xx'] / seconds),
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    ...withStatuses(other),
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    seconds,
    latenciesMs,
  };
}

/**
 * Requests at a fixed rate, request i due at start + i / rate whatever the answers before it
 * (open loop), over at most `connections` keep-alive connections opened beforehand. Latency
 * counts from when a request was due, not from when it was written, so time spent waiting for
 * a free connection (or for a late generator) counts too: no coordinated omission.
 *
 * The generator is a minimal HTTP/1.1 client on raw sockets (one preformatted request, the
 * status line and `Content-Length` or chunked framing of the answer read, nothing else): Node's
 * `http` client cost about 0.7 ms at the median and 2-3 ms at p99 on a 2-core machine against
 * a server that answers in 0.1-0.4 ms (see bench/README.md). When `spinMs` > 0 it waits the
 * last `spinMs` before a due time on `setImmediate` instead of a timer (timers are late by up to
 * a millisecond or more), which keeps its core busy: use it only with the generator on a core of
 * its own. How late requests were written anyway, when a connection was free for them, is
 * reported as `sendLagP99Ms`. The generator runs in a worker thread with a heap of its own
 * (`paced-worker.ts`), the requests formatted beforehand; its GC pauses during the run are
 * reported (`generatorGcMaxMs`, `generatorGcMs`).
 * (autocannon's own rate option sends each connection's quota in a burst at the start of every
 * second, which measures burst queueing instead.)
 */
export async function runPacedLoad(
  options: HttpLoadOptions,
  rate: number,
  spinMs = options.spinMs ?? 0,
): Promise<HttpLoadRun> {
  const seconds = options.seconds ?? 10;
  const total = options.amount ?? Math.round(rate * seconds);
  const head = `Host: ${new URL(options.url).host}\r\nContent-Type: application/json\r\n`;
  const parts = Array.from({ length: total }, (_, i) =>
    Buffer.from(formatRequest(options.method, head, options.request(i)), 'utf8'),
  );
  const offsets = new Uint32Array(total + 1);
  for (let i = 0; i < total; i++)
    offsets[i + 1] = (offsets[i] as number) + (parts[i] as Buffer).length;
  // A buffer of its own (not a slice of Node's shared pool), so that it can be transferred.
  const bytes = new Uint8Array(new ArrayBuffer(offsets[total] as number));
  for (let i = 0; i < total; i++) bytes.set(parts[i] as Buffer, offsets[i]);
  const spec: PacedSpec = {
    url: options.url,
    connections: options.connections,
    rate,
    spinMs,
    method: options.method,
    bytes,
    offsets,
  };
  return pacedRun(rate, await runInWorker(spec));
}

/** One request as written on the wire. */
function formatRequest(method: string, head: string, next: HttpLoadRequest): string {
  const body = next.body ?? '';
  const length = method === 'POST' ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '';
  let extra = '';
  for (const [name, value] of Object.entries(next.headers ?? {})) extra += `${name}: ${value}\r\n`;
  return `${method} ${next.path} HTTP/1.1\r\n${head}${extra}${length}\r\n${body}`;
}

/** Runs a paced load in a worker thread (a young generation large enough for few scavenges). */
function runInWorker(spec: PacedSpec): Promise<PacedOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./paced-worker.js', import.meta.url), {
      workerData: spec,
      transferList: [spec.bytes.buffer as ArrayBuffer, spec.offsets.buffer as ArrayBuffer],
      resourceLimits: { maxYoungGenerationSizeMb: 64 },
    });
    let outcome: PacedOutcome | undefined;
    worker.once('message', (m: PacedOutcome) => (outcome = m));
    worker.once('error', reject);
    worker.once('exit', (code) =>
      outcome ? resolve(outcome) : reject(new Error(`paced load worker exited (${code})`)),
    );
  });
}

function pacedRun(rate: number, o: PacedOutcome): HttpLoadRun {
  const sorted = Float64Array.from(o.latencies).sort();
  const sortedLags = Float64Array.from(o.lags).sort();
  return {
    rps: Math.round(o.ok / o.seconds),
    ok: o.ok,
    non2xx: o.non2xx,
    errors: o.errors,
    ...withStatuses(o.other),
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    seconds: round1(o.seconds),
    targetRate: rate,
    sendLagP99Ms: round2(percentile(sortedLags, 0.99)),
    generatorGcMs: round1(o.gc.totalMs),
    generatorGcMaxMs: round2(o.gc.maxMs),
    latenciesMs: Array.from(o.latencies),
    sendLagsMs: Array.from(sortedLags),
  };
}

/** Several runs of the same load as one: rates over the summed time, percentiles over all responses. */
export function mergeHttpLoads(runs: readonly HttpLoadRun[]): HttpLoadResult {
  const ok = runs.reduce((s, r) => s + r.ok, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const sorted = Float64Array.from(runs.flatMap((r) => r.latenciesMs)).sort();
  const targetRate = runs[0]?.targetRate;
  const lags = runs.every((r) => r.sendLagsMs !== undefined)
    ? Float64Array.from(runs.flatMap((r) => r.sendLagsMs ?? [])).sort()
    : undefined;
  const other: Record<string, number> = {};
  for (const r of runs)
    for (const [status, n] of Object.entries(r.otherStatuses ?? {}))
      other[status] = (other[status] ?? 0) + n;
  const cpu = runs.every((r) => r.serverCpuMs !== undefined)
    ? runs.reduce((sum, r) => sum + (r.serverCpuMs ?? 0), 0)
    : undefined;
  return {
    rps: seconds > 0 ? Math.round(ok / seconds) : 0,
    ok,
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    ...withStatuses(other),
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    seconds: round1(seconds),
    ...(targetRate !== undefined ? { targetRate } : {}),
    ...(lags !== undefined && lags.length > 0
      ? { sendLagP99Ms: round2(percentile(lags, 0.99)) }
      : {}),
    ...(cpu !== undefined ? { serverCpuMs: Math.round(cpu) } : {}),
    ...generatorGc(runs),
  };
}

/** The generator GC figures of merged paced runs: summed, and the longest pause of all. */
function generatorGc(runs: readonly HttpLoadRun[]): {
  generatorGcMs?: number;
  generatorGcMaxMs?: number;
} {
  if (!runs.every((r) => r.generatorGcMs !== undefined)) return {};
  return {
    generatorGcMs: round1(runs.reduce((s, r) => s + (r.generatorGcMs ?? 0), 0)),
    generatorGcMaxMs: Math.max(...runs.map((r) => r.generatorGcMaxMs ?? 0)),
  };
}

/** Server CPU microseconds per 2xx response, when measured. */
export function cpuPerRequestUs(r: HttpLoadResult): number | undefined {
  return r.serverCpuMs === undefined || r.ok === 0 ? undefined : (r.serverCpuMs * 1000) / r.ok;
}

/** The figures of a run without its latency samples (for results files). */
export function withoutSamples(run: HttpLoadRun): HttpLoadResult {
  const { latenciesMs: _samples, sendLagsMs: _lags, ...figures } = run;
  return figures;
}
