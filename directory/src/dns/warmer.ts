import type { Logger } from '@switchboard/service-kit';
import { warmAnswer } from './fast-path.js';
import type { ZoneSnapshot } from '../zone/zone.js';
import type { ZoneState } from '../state/zone-state.js';

/**
 * Signs every RRset of the served snapshot, and encodes its answer, in the background: in
 * slices of a few milliseconds with the event loop free in between, so queries keep being
 * answered while it runs and the first query for a number does not pay for either. It works
 * through names, each looked up in the snapshot served when its turn comes: after a change made
 * from the snapshot it was working on (or had finished), only the changed names are added to
 * what remains; otherwise it starts a whole pass again. Denials are not touched: they are
 * signed per query (directory/src/dns/fast-path.ts says why).
 */
export class ZoneWarmer {
  readonly #zone: ZoneState;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #sliceMs: number;
  /** The snapshot the work below is for. */
  #snapshot: ZoneSnapshot | undefined;
  /** Names of a whole pass still to warm, and changed names. */
  #pass: Iterator<string> | undefined;
  #changed: string[] = [];
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

  /** Takes up the snapshot now served, keeping what is left to do when it follows on. */
  #follow(snapshot: ZoneSnapshot): void {
    const from = snapshot.changes;
    const followsOn =
      from !== undefined && this.#snapshot !== undefined && from.serial === this.#snapshot.serial;
    if (followsOn) {
      for (const name of from.names) this.#changed.push(name);
    } else {
      this.#pass = snapshot.nodes.keys();
      this.#changed = [];
      this.#started = performance.now();
    }
    this.#snapshot = snapshot;
  }

  #next(): string | undefined {
    const changed = this.#changed.pop();
    if (changed !== undefined) return changed;
    const next = this.#pass?.next();
    if (!next || next.done) {
      this.#pass = undefined;
      return undefined;
    }
    return next.value;
  }

  #slice(): void {
    this.#timer = undefined;
    const snapshot = this.#zone.snapshot;
    if (snapshot !== this.#snapshot) this.#follow(snapshot);
    const until = performance.now() + this.#sliceMs;
    const now = Math.floor(this.#now() / 1000);
    const signer = this.#zone.signer;
    try {
      for (;;) {
        const name = this.#next();
        if (name === undefined) {
          this.#warmSnapshot = snapshot;
          // #started is set while a whole pass is under way.
          if (this.#started > 0) {
            const ms = Math.round(performance.now() - this.#started);
            // After a single publish this is a few RRsets; only whole-zone passes are news.
            const level = ms >= 1000 ? 'info' : 'debug';
            this.#log[level]({ serial: snapshot.serial, ms }, 'zone signed and encoded');
            this.#started = 0;
          }
          return;
        }
        const node = snapshot.nodes.get(name);
        if (node) {
          for (const [type, rrset] of node) warmAnswer(snapshot, signer, name, type, rrset, now);
        }
        if (performance.now() >= until) break;
      }
    } catch (err) {
      // Queries still sign on demand; try again from the start on the next change.
      this.#snapshot = undefined;
      this.#log.error({ err }, 'background signing failed');
      return;
    }
    this.#timer = setImmediate(() => this.#slice());
  }
}
