// The worker threads of the warmer's whole passes (warm-worker.ts): started on the first
// range, each given one range at a time; a flag in shared memory tells them while queries come.
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { SigningKey } from '@switchboard/dnssec';
import type { ImageFiles } from '../zone/image.js';
import type { SignaturePolicy } from '../zone/signer.js';
import type { ZoneSettings } from '../zone/zone.js';
import type { WarmRequest, WarmResponse, WarmWorkerData } from './warm-worker.js';

/** What the workers sign for: one image, zone and key. */
export interface WarmPoolSetup {
  readonly files: ImageFiles;
  readonly settings: ZoneSettings;
  readonly key: SigningKey;
  readonly policy: SignaturePolicy;
  readonly threads: number;
  /** How long a worker waits after each number while queries come (ms). */
  readonly busyPauseMs: number;
}

/** What a range warmed on a worker came to (the response, or why it failed). */
export type WarmDone = (response: WarmResponse | { ok: false; error: string }) => void;

interface Slot {
  readonly worker: Worker;
  readonly port: MessagePort;
  /** The range given and not yet answered. */
  done: WarmDone | undefined;
}

export class WarmPool {
  readonly #setup: WarmPoolSetup;
  readonly #busy = new Int32Array(new SharedArrayBuffer(4));
  #slots: Slot[] | undefined;
  #next = 0;
  #closed = false;

  constructor(setup: WarmPoolSetup) {
    this.#setup = setup;
  }

  /** Whether the setup is still the one of `files`, `settings` and `key`. */
  serves(files: ImageFiles, settings: ZoneSettings, key: SigningKey): boolean {
    const s = this.#setup;
    return (
      s.files.path === files.path &&
      s.files.storeFile === files.storeFile &&
      s.settings === settings &&
      s.key === key
    );
  }

  /** Workers without a range. */
  get idle(): number {
    if (this.#closed) return 0;
    return this.#slots
      ? this.#slots.filter((s) => s.done === undefined).length
      : this.#setup.threads;
  }

  /** Ranges given and not yet answered. */
  get running(): number {
    return this.#slots ? this.#slots.filter((s) => s.done !== undefined).length : 0;
  }

  /** Tells the workers whether queries come (they then wait between numbers). */
  set busy(busy: boolean) {
    const v = busy ? 1 : 0;
    if (Atomics.exchange(this.#busy, 0, v) !== v && !busy) Atomics.notify(this.#busy, 0);
  }

  /** Gives `request` to an idle worker (there must be one); `done` is told what came of it. */
  run(request: Omit<WarmRequest, 'id'>, done: WarmDone): void {
    const slots = (this.#slots ??= this.#start());
    const slot = slots.find((s) => s.done === undefined);
    if (!slot || this.#closed) throw new Error('no idle warming worker');
    slot.done = done;
    slot.worker.ref();
    slot.port.ref();
    slot.port.postMessage({ ...request, id: this.#next++ });
  }

  /** Stops the workers; ranges under way are told they failed. */
  close(): void {
    this.#closed = true;
    for (const slot of this.#slots ?? []) {
      this.#settle(slot, { ok: false, error: 'warming stopped' });
      slot.port.close();
      void slot.worker.terminate();
    }
    this.#slots = undefined;
  }

  #settle(slot: Slot, response: WarmResponse | { ok: false; error: string }): void {
    const done = slot.done;
    slot.done = undefined;
    slot.worker.unref();
    slot.port.unref();
    done?.(response);
  }

  #start(): Slot[] {
    const { files, settings, key, policy, busyPauseMs } = this.#setup;
    const slots: Slot[] = [];
    for (let i = 0; i < this.#setup.threads; i++) {
      const { port1: port, port2 } = new MessageChannel();
      const data: WarmWorkerData = {
        port: port2,
        files,
        settings,
        key,
        policy,
        busy: this.#busy,
        busyPauseMs,
      };
      const worker = new Worker(new URL('./warm-worker.js', import.meta.url), {
        workerData: data,
        transferList: [port2],
      });
      worker.unref();
      const slot: Slot = { worker, port, done: undefined };
      port.on('message', (response: WarmResponse) => this.#settle(slot, response));
      port.unref();
      worker.once('error', (err) => this.#settle(slot, { ok: false, error: String(err) }));
      worker.once('exit', (code) => this.#settle(slot, { ok: false, error: `exited (${code})` }));
      slots.push(slot);
    }
    return slots;
  }
}
