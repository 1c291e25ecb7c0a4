import type { Logger } from '@switchboard/service-kit';
import { renewAnswer, warmApex, warmNumber } from './fast-path.js';
import type { ZoneState } from '../state/zone-state.js';
import type { ZoneSnapshot } from '../zone/zone.js';
import { digitsOfName } from '../zone/zone.js';

/** Numbers (warming) or kept answers (renewing) read per step. */
const ROWS_PER_STEP = 200;

/**
 * Background work on the zone image (zone/image.ts), in slices of a few milliseconds with the
 * event loop free in between, none of it before the first answer:
 *
 * - the apex (SOA, NS, DNSKEY) is signed after each change, so denials find its signature;
 * - warming: after the image was filled anew (a first start), one pass signs and encodes every
 *   number's answers into the image, where they are kept across restarts; after that only the
 *   numbers that changed are (each snapshot's `changes`). Until then numbers are signed when
 *   first asked, and `/healthz` says `warm: false`;
 * - renewal: the kept answers are walked in key order, and those due (three days before their
 *   signature expires) are signed anew, so no query waits for it; the next walk waits until
 *   the earliest renewal time the last one saw.
 */
export class ZoneWarmer {
  readonly #zone: ZoneState;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #sliceMs: number;
  readonly #pauseMs: number;
  #timer: NodeJS.Immediate | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  /** The snapshot whose apex is signed and whose changes are queued. */
  #snapshot: ZoneSnapshot | undefined;
  /** Where a whole pass stands (the last number warmed), and the image generation it is for. */
  #pass: { after: string; generation: number } | undefined;
  /** Numbers (digits) changed since, to warm. */
  #changed: string[] = [];
  #renewAfter: [string, number, number] = ['', 0, 0];
  /**
   * The earliest renewal time (seconds) of the answers the pass under way left alone (or of
   * those made after it began), and the last whole pass's: nothing kept is due before it, so no
   * pass is walked until then (or an hour, at most).
   */
  #passDue = 0;
  #due = 0;
  #started = 0;
  #stopped = false;
  #renewed = 0;

  /** `now` in milliseconds since the epoch; `pauseMs` between renewal slices. */
  constructor(zone: ZoneState, now: () => number, log: Logger, sliceMs = 5, pauseMs = 20) {
    this.#zone = zone;
    this.#now = now;
    this.#log = log;
    this.#sliceMs = sliceMs;
    this.#pauseMs = pauseMs;
  }

  /** True once the snapshot served now has its apex signed and every number's answers kept. */
  get warm(): boolean {
    return (
      this.#snapshot === this.#zone.snapshot &&
      this.#pass === undefined &&
      this.#changed.length === 0 &&
      this.#timer === undefined
    );
  }

  /** Answers renewed so far (for tests and logs). */
  get renewed(): number {
    return this.#renewed;
  }

  /** (Re)starts the background work for the snapshot served; call on every change. */
  start(): void {
    if (this.#stopped) return;
    this.#timer ??= setImmediate(() => this.#slice());
    if (!this.#renewTimer) this.#scheduleRenewal(this.#pauseMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearImmediate(this.#timer);
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#timer = undefined;
    this.#renewTimer = undefined;
  }

  /** Takes up the snapshot now served: its apex, and what changed or a whole pass. */
  #follow(snapshot: ZoneSnapshot): void {
    warmApex(snapshot, this.#zone.signer, Math.floor(this.#now() / 1000));
    const { image } = snapshot;
    const from = snapshot.changes;
    if (
      from !== undefined &&
      this.#snapshot !== undefined &&
      from.serial === this.#snapshot.serial
    ) {
      for (const name of from.names) {
        const digits = digitsOfName(name, snapshot.settings.apex);
        if (digits !== undefined) this.#changed.push(digits);
      }
    } else if (!image.warmed) {
      if (this.#pass?.generation !== image.generation) {
        this.#pass = { after: '', generation: image.generation };
        this.#started = performance.now();
      }
    } else if (from !== undefined) {
      // Caught up at start-up from an image warmed before: what changed meanwhile.
      for (const name of from.names) {
        const digits = digitsOfName(name, snapshot.settings.apex);
        if (digits !== undefined) this.#changed.push(digits);
      }
    }
    this.#snapshot = snapshot;
  }

  #slice(): void {
    this.#timer = undefined;
    const snapshot = this.#zone.snapshot;
    try {
      if (snapshot !== this.#snapshot) this.#follow(snapshot);
      const until = performance.now() + this.#sliceMs;
      const now = Math.floor(this.#now() / 1000);
      const signer = this.#zone.signer;
      while (performance.now() < until) {
        const changed = this.#changed.pop();
        if (changed !== undefined) {
          warmNumber(snapshot, signer, changed, now);
          continue;
        }
        const pass = this.#pass;
        if (!pass) return;
        if (pass.generation !== snapshot.image.generation) {
          // Filled anew meanwhile: start over.
          this.#pass = undefined;
          this.#snapshot = undefined;
          break;
        }
        const digits = snapshot.image.digitsAfter(pass.after, ROWS_PER_STEP);
        for (const d of digits) warmNumber(snapshot, signer, d, now);
        if (digits.length > 0) pass.after = digits[digits.length - 1] as string;
        if (digits.length < ROWS_PER_STEP) {
          snapshot.image.markWarmed();
          this.#pass = undefined;
          const ms = Math.round(performance.now() - this.#started);
          this.#log.info({ serial: snapshot.serial, ms }, 'zone signed and encoded');
        }
      }
    } catch (err) {
      // Queries still sign on demand; tried again on the next change.
      this.#snapshot = undefined;
      this.#pass = undefined;
      this.#changed = [];
      this.#log.error({ err }, 'background signing failed');
      return;
    }
    this.#timer = setImmediate(() => this.#slice());
  }

  #scheduleRenewal(ms: number): void {
    if (this.#stopped) return;
    this.#renewTimer = setTimeout(() => this.#renewSlice(), ms);
    this.#renewTimer.unref();
  }

  #renewSlice(): void {
    this.#renewTimer = undefined;
    const snapshot = this.#zone.snapshot;
    const until = performance.now() + this.#sliceMs;
    const now = Math.floor(this.#now() / 1000);
    if (this.#renewAfter[0] === '') {
      if (now < this.#due) return this.#scheduleRenewal(this.#pauseMs * 60);
      this.#passDue = Math.min(this.#zone.signer.earliestRenewal(now), now + 3600);
    }
    let rows: Array<[string, number, number, number]> = [];
    try {
      rows = snapshot.image.keptAnswers(this.#renewAfter, ROWS_PER_STEP);
      for (const [digits, qtype, dnssec, renewAt] of rows) {
        this.#renewAfter = [digits, qtype, dnssec];
        if (now < renewAt) this.#passDue = Math.min(this.#passDue, renewAt);
        else if (renewAnswer(snapshot, this.#zone.signer, digits, qtype, dnssec === 1, now)) {
          this.#renewed += 1;
        }
        if (performance.now() >= until) return this.#scheduleRenewal(this.#pauseMs);
      }
    } catch (err) {
      this.#log.error({ err }, 'renewing kept answers failed');
      rows = [];
      this.#passDue = 0;
    }
    if (rows.length < ROWS_PER_STEP) {
      // A whole pass done: the next one once something is due.
      this.#renewAfter = ['', 0, 0];
      this.#due = this.#passDue;
      this.#scheduleRenewal(this.#pauseMs * 60);
    } else {
      this.#scheduleRenewal(this.#pauseMs);
    }
  }
}
