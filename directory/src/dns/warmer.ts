import type { Logger } from '@switchboard/service-kit';
import { renewAnswer, warmApex } from './fast-path.js';
import type { ZoneSnapshot } from '../zone/zone.js';
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
 * its image has caught up with the store (zone-state.ts). Only the apex (SOA, NS, DNSKEY) is
 * signed ahead, after each change.
 */
export class ZoneWarmer {
  readonly #zone: ZoneState;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #sliceMs: number;
  readonly #pauseMs: number;
  #after: [string, number, number] = ['', 0, 0];
  #timer: NodeJS.Timeout | undefined;
  #apexTimer: NodeJS.Immediate | undefined;
  /** The snapshot whose apex is signed. */
  #warmSnapshot: ZoneSnapshot | undefined;
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

  /** True once the apex of the snapshot served now is signed (numbers are signed on demand). */
  get warm(): boolean {
    return this.#warmSnapshot === this.#zone.snapshot;
  }

  /** Answers renewed so far (for tests and logs). */
  get renewed(): number {
    return this.#renewed;
  }

  /** Signs the apex of the snapshot served and renews in the background; call on every change. */
  start(): void {
    if (this.#stopped) return;
    this.#apexTimer ??= setImmediate(() => this.#warmApex());
    if (!this.#timer) this.#schedule(this.#pauseMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#apexTimer) clearImmediate(this.#apexTimer);
    this.#timer = undefined;
    this.#apexTimer = undefined;
  }

  #warmApex(): void {
    this.#apexTimer = undefined;
    const snapshot = this.#zone.snapshot;
    try {
      warmApex(snapshot, this.#zone.signer, Math.floor(this.#now() / 1000));
      this.#warmSnapshot = snapshot;
    } catch (err) {
      // Queries still sign on demand; tried again on the next change.
      this.#log.error({ err }, 'signing the apex failed');
    }
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
