import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { SigningKey } from '@switchboard/dnssec';
import type { ExportRequest, ExportResponse } from './export-worker.js';
import type { WireRecords } from './wire-records.js';

type Pending = { resolve: (r: ExportResponse) => void; reject: (err: Error) => void };

/** Options of one whole-zone signing (times in milliseconds since the epoch). */
export interface ExportSignOptions {
  readonly key: SigningKey;
  readonly origin: string;
  readonly inception: number;
  readonly expiration: number;
  readonly dnskeyTtl: number;
  /** Seconds since the epoch: signatures of the previous signing expiring later are kept. */
  readonly keepUntil: number;
}

/**
 * The export worker thread (`export-worker.ts`), started on first use. Requests are answered
 * in order, one at a time. If the worker dies (crash, out of memory, terminated), every request
 * under way fails and the next one starts a new worker. The worker holds the process open only
 * while a request is under way; `close()` terminates it.
 */
export class ExportSigner {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  /** The running worker, if any (tests use it to kill the worker mid-signing). */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  /** Requests under way. */
  get busy(): number {
    return this.#pending.size;
  }

  /** The signed records, and when (seconds since the epoch) the earliest signature expires. */
  async sign(
    unsigned: WireRecords,
    options: ExportSignOptions,
  ): Promise<{ records: WireRecords; expires: number }> {
    const r = await this.#request((id) => ({ kind: 'sign', id, unsigned, ...options }));
    if (!('records' in r)) throw new Error('export worker: unexpected answer to sign');
    return { records: r.records, expires: r.expires };
  }

  async diff(
    from: WireRecords,
    to: WireRecords,
  ): Promise<{ deleted: Uint32Array; added: Uint32Array }> {
    const r = await this.#request((id) => ({ kind: 'diff', id, from, to }));
    if (!('deleted' in r)) throw new Error('export worker: unexpected answer to diff');
    return { deleted: r.deleted, added: r.added };
  }

  async text(records: WireRecords, header: string): Promise<string> {
    const r = await this.#request((id) => ({ kind: 'text', id, records, header }));
    if (!('text' in r)) throw new Error('export worker: unexpected answer to text');
    return r.text;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#port?.close();
    this.#port = undefined;
    this.#failAll(new Error('export worker closed'));
    if (worker) await worker.terminate();
  }

  #request(make: (id: number) => ExportRequest): Promise<ExportResponse> {
    if (this.#closed) return Promise.reject(new Error('export worker closed'));
    const { worker, port } = this.#start();
    const id = this.#nextId++;
    return new Promise<ExportResponse>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) {
        worker.ref();
        port.ref();
      }
      port.postMessage(make(id));
    });
  }

  #start(): { worker: Worker; port: MessagePort } {
    if (this.#worker && this.#port) return { worker: this.#worker, port: this.#port };
    const { port1: port, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./export-worker.js', import.meta.url), {
      workerData: { port: port2 },
      transferList: [port2],
    });
    worker.unref();
    port.on('message', (response: ExportResponse) => {
      const p = this.#pending.get(response.id);
      if (!p) return;
      this.#pending.delete(response.id);
      if (this.#pending.size === 0) {
        worker.unref();
        port.unref();
      }
      if (response.ok) p.resolve(response);
      else p.reject(new Error(`export worker: ${response.error}`));
    });
    port.unref();
    const lost = (err: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#port = undefined;
      port.close();
      this.#failAll(err);
    };
    worker.on('error', (err) => lost(err));
    worker.on('exit', (code) => lost(new Error(`export worker exited (code ${code})`)));
    this.#worker = worker;
    this.#port = port;
    return { worker, port };
  }

  #failAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}
