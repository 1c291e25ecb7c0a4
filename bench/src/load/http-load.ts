// Load on loopback: autocannon as fast as answered, or evenly paced requests at a fixed rate;
// successful requests per second and latency percentiles.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import autocannon from 'autocannon';
import { percentile } from './stats.js';

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
 * reported as `sendLagP99Ms`.
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
  const generator = new PacedGenerator(options, rate, spinMs, total);
  await generator.connectAll(Math.max(1, options.connections));
  const elapsed = await generator.run();
  return generator.result(elapsed);
}

/** One keep-alive connection of the paced generator. */
interface PacedConnection {
  readonly socket: Socket;
  readonly reader: ResponseReader;
  /** Due time of the request in flight, or -1 when idle. */
  due: number;
}

/** The state of one paced run: connections, what was sent and what came back. */
class PacedGenerator {
  readonly #options: HttpLoadOptions;
  readonly #rate: number;
  readonly #spinMs: number;
  readonly #total: number;
  readonly #url: URL;
  readonly #head: string;
  // Preallocated, so that the generator allocates little while it measures.
  readonly #latencies: Float64Array;
  readonly #lags: Float64Array;
  readonly #other: Record<string, number> = {};
  readonly #idle: PacedConnection[] = [];
  readonly #connections: PacedConnection[] = [];
  #ok = 0;
  #non2xx = 0;
  #errors = 0;
  #next = 0;
  #lagCount = 0;
  #done = 0;
  #start = 0;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;

  constructor(options: HttpLoadOptions, rate: number, spinMs: number, total: number) {
    this.#options = options;
    this.#rate = rate;
    this.#spinMs = spinMs;
    this.#total = total;
    this.#url = new URL(options.url);
    this.#head = `Host: ${this.#url.host}\r\nContent-Type: application/json\r\n`;
    this.#latencies = new Float64Array(total);
    this.#lags = new Float64Array(total);
  }

  #dueAt(i: number): number {
    return this.#start + (i * 1000) / this.#rate;
  }

  #format(i: number): string {
    const next = this.#options.request(i);
    const body = next.body ?? '';
    const method = this.#options.method;
    const length = method === 'POST' ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '';
    let extra = '';
    for (const [name, value] of Object.entries(next.headers ?? {}))
      extra += `${name}: ${value}\r\n`;
    return `${method} ${next.path} HTTP/1.1\r\n${this.#head}${extra}${length}\r\n${body}`;
  }

  #finish(c: PacedConnection, status: number | undefined): void {
    const t = performance.now();
    if (status === undefined) this.#errors++;
    else if (status >= 200 && status < 300) this.#latencies[this.#ok++] = t - c.due;
    else {
      this.#non2xx++;
      countStatus(this.#other, status);
    }
    c.due = -1;
    this.#done++;
    if (status !== undefined) this.#idle.push(c);
    this.#pump();
  }

  #connect(): Promise<PacedConnection> {
    return new Promise((resolve, reject) => {
      const port = Number(this.#url.port || 80);
      const socket = createConnection({ host: this.#url.hostname, port, noDelay: true });
      const c: PacedConnection = {
        socket,
        due: -1,
        reader: new ResponseReader((status) => this.#finish(c, status)),
      };
      socket.once('connect', () => resolve(c));
      socket.on('data', (chunk: Buffer) => {
        if (!c.reader.push(chunk)) socket.destroy();
      });
      socket.on('error', reject);
      socket.once('close', () => this.#closed(c));
    });
  }

  /** A request in flight on a connection that closed failed; the connection is replaced. */
  #closed(c: PacedConnection): void {
    if (c.due >= 0) this.#finish(c, undefined);
    const at = this.#idle.indexOf(c);
    if (at >= 0) this.#idle.splice(at, 1);
    if (this.#next < this.#total) {
      this.#connect().then(
        (fresh) => {
          this.#idle.push(fresh);
          this.#pump();
        },
        () => undefined,
      );
    }
  }

  async connectAll(count: number): Promise<void> {
    const connections = await Promise.all(Array.from({ length: count }, () => this.#connect()));
    this.#connections.push(...connections);
    this.#idle.push(...connections);
  }

  // `timed`: called by the timer or the spin, not by an answer freeing a connection. Only those
  // sends measure the generator's own lateness (others waited for a busy server).
  #pump(timed = false): void {
    const now = performance.now();
    while (this.#next < this.#total && this.#idle.length > 0 && this.#dueAt(this.#next) <= now) {
      const c = this.#idle.pop() as PacedConnection;
      c.due = this.#dueAt(this.#next);
      if (timed) this.#lags[this.#lagCount++] = now - c.due;
      c.reader.expect(this.#options.method);
      c.socket.write(this.#format(this.#next));
      this.#next++;
    }
    if (this.#next >= this.#total) {
      if (this.#done >= this.#total) this.#wake?.();
      return;
    }
    // Nothing idle: the next answer calls pump(). Otherwise wait for the next due time.
    if (this.#idle.length === 0 || this.#timer !== undefined || this.#immediate !== undefined)
      return;
    const wait = this.#dueAt(this.#next) - now;
    if (wait <= this.#spinMs) {
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#pump(true);
      });
    } else {
      this.#timer = setTimeout(
        () => {
          this.#timer = undefined;
          this.#pump(true);
        },
        Math.max(0, wait - this.#spinMs),
      );
    }
  }

  /** Sends every request at its due time; resolves with the seconds it took. */
  async run(): Promise<number> {
    this.#start = performance.now();
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#pump(true);
    });
    const elapsed = (performance.now() - this.#start) / 1000;
    for (const c of [...this.#idle, ...this.#connections]) c.socket.destroy();
    return elapsed;
  }

  result(elapsed: number): HttpLoadRun {
    const okLatencies = this.#latencies.subarray(0, this.#ok);
    const sorted = Float64Array.from(okLatencies).sort();
    const sortedLags = Float64Array.from(this.#lags.subarray(0, this.#lagCount)).sort();
    return {
      rps: Math.round(this.#ok / elapsed),
      ok: this.#ok,
      non2xx: this.#non2xx,
      errors: this.#errors,
      ...withStatuses(this.#other),
      p50Ms: round1(percentile(sorted, 0.5)),
      p99Ms: round1(percentile(sorted, 0.99)),
      seconds: round1(elapsed),
      targetRate: this.#rate,
      sendLagP99Ms: round2(percentile(sortedLags, 0.99)),
      latenciesMs: Array.from(okLatencies),
      sendLagsMs: Array.from(sortedLags),
    };
  }
}

/**
 * Reads one HTTP/1.1 response at a time off a keep-alive connection (no pipelining): status
 * line, then a body framed by `Content-Length` or chunked encoding (none for HEAD, 1xx, 204 and
 * 304). Calls `done(status)` when the last byte of the response has arrived.
 */
export class ResponseReader {
  private buffered: Buffer = Buffer.alloc(0);
  private status = 0;
  /** Bytes of body still to come, or -1 while reading the head, -2 while reading chunks. */
  private remaining = -1;
  private noBody = false;
  private active = false;

  constructor(private readonly done: (status: number) => void) {}

  /** A request was written: read its response next. */
  expect(method: string): void {
    this.active = true;
    this.noBody = method === 'HEAD';
    this.remaining = -1;
  }

  /** Takes bytes off the socket; false when they make no sense (the caller drops the connection). */
  push(chunk: Buffer): boolean {
    if (!this.active) return false;
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      if (this.remaining === -1) {
        const end = this.buffered.indexOf('\r\n\r\n');
        if (end < 0) return this.buffered.length < 65_536;
        const headText = this.buffered.toString('latin1', 0, end);
        this.buffered = this.buffered.subarray(end + 4);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(headText);
        if (!m) return false;
        this.status = Number(m[1]);
        if (this.status >= 100 && this.status < 200) continue; // informational: another head follows
        const lower = headText.toLowerCase();
        const length = /\r\ncontent-length:[ \t]*(\d+)/.exec(lower);
        if (this.noBody || this.status === 204 || this.status === 304) this.remaining = 0;
        else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) this.remaining = -2;
        else if (length) this.remaining = Number(length[1]);
        else return false; // body until close: not on a keep-alive connection
      }
      if (this.remaining === -2) {
        // Chunked: size line, data, CRLF; a zero size ends it (no trailers expected).
        const eol = this.buffered.indexOf('\r\n');
        if (eol < 0) return true;
        const size = parseInt(this.buffered.toString('latin1', 0, eol), 16);
        if (!Number.isFinite(size)) return false;
        if (size === 0) {
          if (this.buffered.length < eol + 4) return true;
          this.buffered = this.buffered.subarray(eol + 4);
          return this.complete();
        }
        if (this.buffered.length < eol + 2 + size + 2) return true;
        this.buffered = this.buffered.subarray(eol + 2 + size + 2);
        continue;
      }
      if (this.buffered.length < this.remaining) return true;
      this.buffered = this.buffered.subarray(this.remaining);
      return this.complete();
    }
  }

  private complete(): boolean {
    this.active = false;
    this.remaining = -1;
    // Bytes beyond the response on a connection without pipelining are a protocol error.
    const extra = this.buffered.length > 0;
    this.buffered = Buffer.alloc(0);
    this.done(this.status);
    return !extra;
  }
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
