import type { Logger } from '@switchboard/service-kit';
import { warmAnswer } from './fast-path.js';
import type { Node, ZoneSnapshot } from './zone.js';
import type { ZoneState } from './zone-state.js';

/**
 * Signs every RRset of the served snapshot, and encodes its answer, in the background: in
 * slices of a few milliseconds with the event loop free in between, so queries keep being
 * answered while it runs and the first query for a number does not pay for a signature. It
 * starts again on every new snapshot, where RRsets carried over unchanged cost nothing. Denials
 * are not touched: they are signed per query (directory/src/fast-path.ts says why).
 */
export class ZoneWarmer {
  readonly #zone: ZoneState;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #sliceMs: number;
  #snapshot: ZoneSnapshot | undefined;
  #nodes: Iterator<[string, Node]> | undefined;
  #timer: NodeJS.Immediate | undefined;
  #warmSnapshot: ZoneSnapshot | undefined;
  #started = 0;
  #stopped = false;

  /** `now` in milliseconds since the epoch. */
  constructor(zone: ZoneState, now: () => number, log: Logger, sliceMs = 5) {
    this.#zone = zone;
    this.#now = now;
    this.#log = log;
    this.#sliceMs = sliceMs;
  }

  /** True once every RRset of the snapshot now served is signed and encoded. */
  get warm(): boolean {
    return this.#warmSnapshot === this.#zone.snapshot;
  }

  /** (Re)starts warming the current snapshot; cheap to call on every change. */
  start(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setImmediate(() => this.#slice());
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearImmediate(this.#timer);
    this.#timer = undefined;
  }

  #slice(): void {
    this.#timer = undefined;
    const snapshot = this.#zone.snapshot;
    if (snapshot !== this.#snapshot || !this.#nodes) {
      this.#snapshot = snapshot;
      this.#nodes = snapshot.nodes.entries();
      this.#started = performance.now();
    }
    const until = performance.now() + this.#sliceMs;
    const now = Math.floor(this.#now() / 1000);
    const signer = this.#zone.signer;
    try {
      for (;;) {
        const next = this.#nodes.next();
        if (next.done) {
          this.#nodes = undefined;
          this.#warmSnapshot = snapshot;
          const ms = Math.round(performance.now() - this.#started);
          // After a single publish this is a few RRsets; only whole-zone passes are news.
          const level = ms >= 1000 ? 'info' : 'debug';
          this.#log[level]({ serial: snapshot.serial, ms }, 'zone signed and encoded');
          return;
        }
        const [name, node] = next.value;
        for (const [type, rrset] of node) warmAnswer(snapshot, signer, name, type, rrset, now);
        if (performance.now() >= until) break;
      }
    } catch (err) {
      // Queries still sign on demand; try again from the start on the next change.
      this.#nodes = undefined;
      this.#log.error({ err }, 'background signing failed');
      return;
    }
    this.#timer = setImmediate(() => this.#slice());
  }
}
