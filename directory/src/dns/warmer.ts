import type { Logger } from '@switchboard/service-kit';
import { renewAnswer } from './fast-path.js';
import type { ZoneState } from '../state/zone-state.js';

/** Kept answers read per slice. */
const ROWS_PER_SLICE = 500;

/**
 * Renews the answers kept in the zone image (signatures made on demand by the fast path, kept
 * across restarts) once they are due, in the background: it walks the kept answers in key
 * order, a few hundred per slice of at most a few milliseconds, with the event loop free in
 * between, and starts over after a pause at the end. So a number asked for again after its
 * signature's renewal time (three days before it expires) is answered from what is kept, and
 * nothing ever signs the whole zone ahead of the first answer: the directory answers as soon as
 * its image has caught up with the store (zone-state.ts).
 */
export class ZoneWarmer {
  readonly #zone: ZoneState;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #sliceMs: number;
  readonly #pauseMs: number;
  #after: [string, number, number] = ['', 0, 0];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #renewed = 0;

  /** `now` in milliseconds since the epoch; `pauseMs` between slices (a whole pass: 60 times). */
  constructor(zone: ZoneState, now: () => number, log: Logger, sliceMs = 5, pauseMs = 20) {
    this.#zone = zone;
    this.#now = now;
    this.#log = log;
    this.#sliceMs = sliceMs;
    this.#pauseMs = pauseMs;
  }

  /** True: the zone is answered from its image from the start, signing on demand. */
  get warm(): boolean {
    return true;
  }

  /** Answers renewed so far (for tests and logs). */
  get renewed(): number {
    return this.#renewed;
  }

  /** Starts renewing in the background; cheap to call again. */
  start(): void {
    if (this.#stopped || this.#timer) return;
    this.#schedule(this.#pauseMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#slice(), ms);
    this.#timer.unref();
  }

  #slice(): void {
    this.#timer = undefined;
    const snapshot = this.#zone.snapshot;
    const until = performance.now() + this.#sliceMs;
    const now = Math.floor(this.#now() / 1000);
    const signer = this.#zone.signer;
    try {
      const rows = snapshot.image.keptAnswers(this.#after, ROWS_PER_SLICE);
      for (const [digits, qtype, dnssec, renewAt] of rows) {
        this.#after = [digits, qtype, dnssec];
        if (now >= renewAt && renewAnswer(snapshot, signer, digits, qtype, dnssec === 1, now)) {
          this.#renewed += 1;
        }
        if (performance.now() >= until) break;
      }
      if (rows.length < ROWS_PER_SLICE && performance.now() < until) {
        // A whole pass done: start over after a longer pause.
        this.#after = ['', 0, 0];
        this.#schedule(this.#pauseMs * 60);
        return;
      }
    } catch (err) {
      this.#log.error({ err }, 'renewing kept answers failed');
      this.#after = ['', 0, 0];
      this.#schedule(this.#pauseMs * 60);
      return;
    }
    this.#schedule(this.#pauseMs);
  }
}
