// The paced load generator (see runPacedLoad in http-load.ts): evenly spaced requests at a
// fixed rate over keep-alive connections, a minimal HTTP/1.1 client on raw sockets. It runs in a
// worker thread of its own (paced-worker.ts), so that neither the main thread's heap (the
// requests signed for other slices, the fixture) nor its work adds GC pauses to its timing.
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';

/** One keep-alive connection of the paced generator. */
interface PacedConnection {
  readonly socket: Socket;
  readonly reader: ResponseReader;
  /** Due time of the request in flight, or -1 when idle. */
  due: number;
}

/** What a paced run needs, all of it cloneable (it runs in a worker thread). */
export interface PacedSpec {
  readonly url: string;
  readonly connections: number;
  readonly rate: number;
  readonly spinMs: number;
  readonly method: string;
  /**
   * Every request, formatted in full (request line, headers, body), one after the other in one
   * buffer (off the V8 heap: nothing for the generator's GC to copy); request i is
   * `bytes[offsets[i]..offsets[i + 1])`.
   */
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
}

/** The raw outcome of a paced run (turned into an HttpLoadRun by the caller). */
export interface PacedOutcome {
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly other: Record<string, number>;
  /** Latency of each 2xx answer, from its due time (ms). */
  readonly latencies: Float64Array<ArrayBuffer>;
  /** How late each request was written by the timer or spin (ms). */
  readonly lags: Float64Array<ArrayBuffer>;
  readonly seconds: number;
  /** The generator's own GC pauses during the run: count, total and longest (ms). */
  readonly gc: { readonly count: number; readonly totalMs: number; readonly maxMs: number };
}

/** The state of one paced run: connections, what was sent and what came back. */
export class PacedGenerator {
  readonly #spec: PacedSpec;
  readonly #rate: number;
  readonly #spinMs: number;
  readonly #total: number;
  readonly #url: URL;
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

  constructor(spec: PacedSpec) {
    this.#spec = spec;
    this.#rate = spec.rate;
    this.#spinMs = spec.spinMs;
    this.#total = spec.offsets.length - 1;
    this.#url = new URL(spec.url);
    this.#latencies = new Float64Array(this.#total);
    this.#lags = new Float64Array(this.#total);
  }

  #dueAt(i: number): number {
    return this.#start + (i * 1000) / this.#rate;
  }

  #finish(c: PacedConnection, status: number | undefined): void {
    const t = performance.now();
    if (status === undefined) this.#errors++;
    else if (status >= 200 && status < 300) this.#latencies[this.#ok++] = t - c.due;
    else {
      this.#non2xx++;
      this.#other[String(status)] = (this.#other[String(status)] ?? 0) + 1;
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
      c.reader.expect(this.#spec.method);
      const { bytes, offsets } = this.#spec;
      const from = offsets[this.#next] as number;
      c.socket.write(
        Buffer.from(
          bytes.buffer,
          bytes.byteOffset + from,
          (offsets[this.#next + 1] as number) - from,
        ),
      );
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
    if (wait <= this.#spinMs) this.#immediate = setImmediate(this.#onImmediate);
    else this.#timer = setTimeout(this.#onTimer, Math.max(0, wait - this.#spinMs));
  }

  // Bound once: the spin calls setImmediate thousands of times a second, a closure each would
  // be garbage too.
  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.#pump(true);
  };

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#pump(true);
  };

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

  /** What came back; `gc` is filled in by the caller. */
  outcome(seconds: number): Omit<PacedOutcome, 'gc'> {
    return {
      ok: this.#ok,
      non2xx: this.#non2xx,
      errors: this.#errors,
      other: this.#other,
      latencies: this.#latencies.slice(0, this.#ok),
      lags: this.#lags.slice(0, this.#lagCount),
      seconds,
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
