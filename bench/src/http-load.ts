// Load on loopback: autocannon as fast as answered, or evenly paced requests at a fixed rate;
// successful requests per second and latency percentiles.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { percentile } from './stats.js';

export interface HttpLoadResult {
  /** 2xx responses per second over the whole run. */
  readonly rps: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Latency percentiles of the 2xx responses (exact, from every response's own time). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly seconds: number;
  /** Requests per second asked for (fixed-rate runs only). */
  readonly targetRate?: number;
  /**
   * CPU time the server process (all its threads) used during the run, when its pid was given
   * (Linux): unlike rates, not skewed by other work on the machine.
   */
  readonly serverCpuMs?: number;
}

/** A run's figures plus every 2xx latency, for merging runs (not written to results). */
export interface HttpLoadRun extends HttpLoadResult {
  readonly latenciesMs: readonly number[];
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
  readonly method: 'GET' | 'POST';
  /** The server's process id, to measure its CPU time during the run (Linux /proc). */
  readonly serverPid?: number;
  /** Path (and body) of the i-th request. */
  readonly request: (i: number) => { path: string; body?: string };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

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
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    seconds,
    latenciesMs,
  };
}

/**
 * Requests at a fixed rate, request i due at start + i / rate whatever the answers before it
 * (open loop), over at most `connections` keep-alive connections. Latency counts from when a
 * request was due, so time spent waiting for a free connection counts too (autocannon's own
 * rate option sends each connection's quota in a burst at the start of every second, which
 * measures burst queueing instead).
 */
export async function runPacedLoad(options: HttpLoadOptions, rate: number): Promise<HttpLoadRun> {
  const seconds = options.seconds ?? 10;
  const total = options.amount ?? Math.round(rate * seconds);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const url = new URL(options.url);
  const latenciesMs: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let pending = 0;
  const start = performance.now();
  const send = (i: number, due: number): void => {
    const next = options.request(i);
    pending++;
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: next.path,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) latenciesMs.push(performance.now() - due);
          else non2xx++;
          pending--;
        });
      },
    );
    req.on('error', () => {
      errors++;
      pending--;
    });
    req.end(next.body);
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const dueCount = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      for (; sent < dueCount; sent++) send(sent, start + (sent * 1000) / rate);
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / rate - now));
      else resolve();
    };
    tick();
  });
  while (pending > 0) await new Promise((r) => setTimeout(r, 5));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    rps: Math.round(latenciesMs.length / elapsed),
    ok: latenciesMs.length,
    non2xx,
    errors,
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    seconds: round1(elapsed),
    targetRate: rate,
    latenciesMs,
  };
}

/** Several runs of the same load as one: rates over the summed time, percentiles over all responses. */
export function mergeHttpLoads(runs: readonly HttpLoadRun[]): HttpLoadResult {
  const ok = runs.reduce((s, r) => s + r.ok, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const sorted = Float64Array.from(runs.flatMap((r) => r.latenciesMs)).sort();
  const targetRate = runs[0]?.targetRate;
  const cpu = runs.every((r) => r.serverCpuMs !== undefined)
    ? runs.reduce((sum, r) => sum + (r.serverCpuMs ?? 0), 0)
    : undefined;
  return {
    rps: seconds > 0 ? Math.round(ok / seconds) : 0,
    ok,
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    seconds: round1(seconds),
    ...(targetRate !== undefined ? { targetRate } : {}),
    ...(cpu !== undefined ? { serverCpuMs: Math.round(cpu) } : {}),
  };
}

/** Server CPU microseconds per 2xx response, when measured. */
export function cpuPerRequestUs(r: HttpLoadResult): number | undefined {
  return r.serverCpuMs === undefined || r.ok === 0 ? undefined : (r.serverCpuMs * 1000) / r.ok;
}

/** The figures of a run without its latency samples (for results files). */
export function withoutSamples(run: HttpLoadRun): HttpLoadResult {
  const { latenciesMs: _samples, ...figures } = run;
  return figures;
}
