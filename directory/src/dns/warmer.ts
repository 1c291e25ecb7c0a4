import type { Logger } from '@switchboard/service-kit';
import { renewAnswer, warmApex, warmNumber } from './fast-path.js';
import type { WarmDone } from './warm-pool.js';
import { WarmPool } from './warm-pool.js';
import type { ZoneState } from '../state/zone-state.js';
import { nameHash } from '../zone/name-index.js';
import type { ZoneSnapshot } from '../zone/zone.js';
import { digitsOfName } from '../zone/zone.js';

/** Numbers (warming) or kept answers (renewing) read per step. */
const ROWS_PER_STEP = 200;
/** How often (ms) the event loop looks at the queries while the workers warm a pass. */
const POLL_MS = 5;

/** How the warmer shares the event loop with queries; every field has a default. */
export interface WarmerOptions {
  /** Longest slice (ms) while no query came for `quietMs`. Default 5. */
  readonly sliceMs?: number;
  /** Longest slice (ms) while queries come. Default 0.5. */
  readonly busySliceMs?: number;
  /** Queries count as coming until this long (ms) after the last one. Default 100. */
  readonly quietMs?: number;
  /**
   * Pause (ms) after a slice while queries come, so warming takes about a tenth of the core
   * under load (0: the next turn of the event loop, as when quiet). Default 5.
   */
  readonly busyPauseMs?: number;
  /** Pause (ms) between renewal slices. Default 20. */
  readonly pauseMs?: number;
  /** Queries received so far (the listeners count them, server.ts); default: none ever. */
  readonly queries?: () => number;
  /** The slices' clock in ms; default `performance.now` (tests advance their own). */
  readonly clock?: () => number;
  /**
   * Worker threads that warm whole passes (warm-worker.ts), each a range of `rangeSize` numbers
   * at a time; 0 (the default): on the event loop, in slices. An in-memory image is always
   * warmed on the event loop (no other thread can open it), and so are changed numbers.
   */
  readonly threads?: number;
  /** Numbers per range given to a worker. Default 256. */
  readonly rangeSize?: number;
}

export class ZoneWarmer {
  readonly #zone: ZoneState;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #sliceMs: number;
  readonly #busySliceMs: number;
  readonly #quietMs: number;
  readonly #busyPauseMs: number;
  readonly #pauseMs: number;
  readonly #queries: () => number;
  readonly #clock: () => number;
  readonly #rangeSize: number;
  /** Worker threads for whole passes (0 once they failed: the event loop's from then on). */
  #threads: number;
  #pool: WarmPool | undefined;
  /** Whether the slice under way found nothing to do but wait for the workers. */
  #waiting = false;
  /** The query count last read, and when (`#clock`) it was last seen to move. */
  #queriesSeen = 0;
  #queriedAt = -Infinity;
  /** Whether the slice under way (or the last) was a short one, queries coming. */
  #busy = false;
  /** Whether `#timer` is a timeout (a pause) rather than an immediate. */
  #paused = false;
  #timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  /** The snapshot whose apex is signed and whose changes are queued. */
  #snapshot: ZoneSnapshot | undefined;
  /** Where a whole pass stands (the last number warmed), and the image generation it is for. */
  #pass: Pass | undefined;
  /** Numbers (digits) changed since, to warm. */
  #changed: string[] = [];
  #renewAfter: [string, number, number] = ['', 0, 0];
  /**
   * The earliest renewal time (seconds) of the answers the pass under way left alone (or of
   * those made after it began), and the last whole pass's: nothing kept is due before it, so no
   * pass is walked until then (or an hour, at most).
   */
  #passDue = 0;
  /** The renewal pass under way on the workers, if any. */
  #renewal: Renewal | undefined;
  #due = 0;
  #started = 0;
  #stopped = false;
  #renewed = 0;
  #renewedByWorkers = 0;
  #warmed = 0;

  /** `now` in milliseconds since the epoch (signature times). */
  constructor(zone: ZoneState, now: () => number, log: Logger, options: WarmerOptions = {}) {
    this.#zone = zone;
    this.#now = now;
    this.#log = log;
    this.#sliceMs = options.sliceMs ?? 5;
    this.#busySliceMs = options.busySliceMs ?? 0.5;
    this.#quietMs = options.quietMs ?? 100;
    this.#busyPauseMs = options.busyPauseMs ?? 5;
    this.#pauseMs = options.pauseMs ?? 20;
    this.#queries = options.queries ?? (() => 0);
    this.#clock = options.clock ?? (() => performance.now());
    this.#threads = options.threads ?? 0;
    this.#rangeSize = options.rangeSize ?? 256;
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

  /** Of {@link renewed}, the answers renewed on the workers (for tests and logs). */
  get renewedByWorkers(): number {
    return this.#renewedByWorkers;
  }

  /** Numbers warmed so far, changed ones and whole passes' (for tests). */
  get warmed(): number {
    return this.#warmed;
  }

  /** (Re)starts the background work for the snapshot served; call on every change. */
  start(): void {
    if (this.#stopped) return;
    if (this.#timer === undefined) {
      this.#paused = false;
      this.#timer = setImmediate(() => this.#slice());
    }
    if (!this.#renewTimer) this.#scheduleRenewal(this.#pauseMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#pool?.close();
    this.#pool = undefined;
    this.#clearTimer();
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
        this.#pass = {
          after: '',
          generation: image.generation,
          batch: [],
          index: 0,
          end: false,
          workers: this.#poolFor(snapshot) !== undefined,
          running: 0,
        };
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

  /** When the slice starting now must end (`#clock`): short while queries come. */
  #until(): number {
    const at = this.#clock();
    const seen = this.#queries();
    if (seen !== this.#queriesSeen) {
      this.#queriesSeen = seen;
      this.#queriedAt = at;
    }
    this.#busy = at - this.#queriedAt < this.#quietMs;
    if (this.#pool) this.#pool.busy = this.#busy;
    return at + (this.#busy ? this.#busySliceMs : this.#sliceMs);
  }

  #clearTimer(): void {
    const timer = this.#timer;
    if (timer === undefined) return;
    if (this.#paused) clearTimeout(timer as NodeJS.Timeout);
    else clearImmediate(timer as NodeJS.Immediate);
  }

  /**
   * The next slice: on the next turn of the event loop when quiet (full speed), after
   * `busyPauseMs` while queries come (each turn would otherwise serve at most the datagrams
   * read in its poll phase, 32 per socket, and then a slice: a quarter of the core or more).
   */
  #next(): void {
    this.#paused = this.#waiting || (this.#busy && this.#busyPauseMs > 0);
    this.#timer = this.#paused
      ? setTimeout(() => this.#slice(), this.#waiting ? POLL_MS : this.#busyPauseMs)
      : setImmediate(() => this.#slice());
  }

  #slice(): void {
    this.#timer = undefined;
    this.#waiting = false;
    const snapshot = this.#zone.snapshot;
    try {
      if (snapshot !== this.#snapshot) this.#follow(snapshot);
      if (!this.#warmUntil(snapshot, this.#until())) return;
    } catch (err) {
      // Queries still sign on demand; tried again on the next change.
      this.#snapshot = undefined;
      this.#pass = undefined;
      this.#changed = [];
      this.#log.error({ err }, 'background signing failed');
      return;
    }
    this.#next();
  }

  /** Warms changed numbers, then the pass, one number at a time until `until`: false if done. */
  #warmUntil(snapshot: ZoneSnapshot, until: number): boolean {
    const now = Math.floor(this.#now() / 1000);
    const signer = this.#zone.signer;
    do {
      let digits = this.#changed.pop();
      const pass = this.#pass;
      if (digits === undefined) {
        if (!pass) return false;
        if (pass.generation !== snapshot.image.generation) {
          // Filled anew meanwhile: start over.
          this.#pass = undefined;
          this.#snapshot = undefined;
          return true;
        }
        if (pass.workers) return this.#dispatch(pass, snapshot, now);
        digits = this.#nextOfPass(pass, snapshot);
        if (digits === undefined) return this.#passDone(snapshot);
        pass.after = digits;
      }
      warmNumber(snapshot, signer, digits, now);
      this.#warmed += 1;
    } while (this.#clock() < until);
    return true;
  }

  /** Marks the image warm once a whole pass is done: false if nothing is left to warm. */
  #passDone(snapshot: ZoneSnapshot): boolean {
    snapshot.image.markWarmed();
    this.#pass = undefined;
    const ms = Math.round(performance.now() - this.#started);
    this.#log.info({ serial: snapshot.serial, ms }, 'zone signed and encoded');
    return this.#changed.length > 0;
  }

  /** The workers for a pass over `snapshot`'s image, if it is to be warmed by workers. */
  #poolFor(snapshot: ZoneSnapshot): WarmPool | undefined {
    const files = snapshot.image.files;
    const { signer } = this.#zone;
    const { settings } = snapshot;
    if (this.#threads <= 0 || files === undefined) return undefined;
    if (this.#pool && !this.#pool.serves(files, settings, signer.key)) {
      this.#pool.close();
      this.#pool = undefined;
    }
    this.#pool ??= new WarmPool({
      files,
      settings,
      key: signer.key,
      policy: signer.policy,
      threads: this.#threads,
      busyPauseMs: this.#busyPauseMs,
    });
    return this.#pool;
  }

  /**
   * Gives idle workers the pass's next ranges; true while the pass goes on (the event loop then
   * only looks at the queries, every {@link POLL_MS}), else {@link #passDone}'s answer.
   */
  #dispatch(pass: Pass, snapshot: ZoneSnapshot, now: number): boolean {
    const pool = this.#pool;
    if (!pool) throw new Error('the warming workers are gone');
    while (!pass.end && pool.idle > 0) {
      const upTo = snapshot.image.digitsAt(pass.after, this.#rangeSize);
      pass.running += 1;
      const done: WarmDone = (response) => this.#ranged(pass, snapshot, response);
      pool.run({ after: pass.after, upTo, now }, done);
      if (upTo === undefined) pass.end = true;
      else pass.after = upTo;
    }
    if (pass.end && pass.running === 0) return this.#passDone(snapshot);
    this.#waiting = true;
    return true;
  }

  /** A range warmed by a worker: its numbers left to the event loop are queued. */
  #ranged(pass: Pass, snapshot: ZoneSnapshot, response: Parameters<WarmDone>[0]): void {
    pass.running -= 1;
    if (this.#stopped) return;
    if (!response.ok) {
      // Warmed on the event loop from now on; the new pass skips what the workers kept.
      if (this.#threads > 0) this.#log.error({ err: response.error }, 'warming worker failed');
      this.#threads = 0;
      this.#pool?.close();
      this.#pool = undefined;
      this.#pass = undefined;
      this.#snapshot = undefined;
    } else {
      this.#warmed += response.numbers;
      this.#zone.signer.addSignatures(response.signatures);
      this.#changed.push(...response.leftover);
      // Kept in memory too while the cache has room, as the event loop's pass keeps them; not
      // while queries come, nor once the snapshot moved on (the names it changed were dropped).
      if (!this.#busy && snapshot === this.#zone.snapshot) cacheAnswers(snapshot, response.answers);
    }
    // The next range at once, not at the next look at the queries.
    if (this.#timer !== undefined && this.#paused) {
      this.#clearTimer();
      this.#timer = undefined;
    }
    if (this.#timer === undefined) {
      this.#paused = false;
      this.#timer = setImmediate(() => this.#slice());
    }
  }

  /** The pass's next number (read `ROWS_PER_STEP` at a time), or undefined at the end. */
  #nextOfPass(pass: Pass, snapshot: ZoneSnapshot): string | undefined {
    if (pass.index === pass.batch.length) {
      if (pass.end) return undefined;
      pass.batch = snapshot.image.digitsAfter(pass.after, ROWS_PER_STEP);
      pass.index = 0;
      pass.end = pass.batch.length < ROWS_PER_STEP;
      if (pass.batch.length === 0) return undefined;
    }
    return pass.batch[pass.index++];
  }

  /**
   * Gives idle workers the renewal pass's next ranges (the warm pass's rules: each worker reads
   * its range, signs what is due, keeps it only if the entry is still the one signed, waits
   * while queries come), and looks at the queries again in {@link POLL_MS}.
   */
  #renewOnWorkers(renewal: Renewal, snapshot: ZoneSnapshot): void {
    const pool = this.#pool;
    if (this.#renewal !== renewal) return;
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    if (!pool) return this.#renewalFailed('the warming workers are gone');
    while (!renewal.end && pool.idle > 0) {
      const upTo = snapshot.image.digitsAt(renewal.after, this.#rangeSize);
      renewal.running += 1;
      const done: WarmDone = (response) => this.#renewedRange(renewal, snapshot, response);
      pool.run({ after: renewal.after, upTo, now: renewal.now, renewOnly: true }, done);
      if (upTo === undefined) renewal.end = true;
      else renewal.after = upTo;
    }
    if (renewal.end && renewal.running === 0) {
      // A whole pass done: the next one once something is due.
      this.#renewal = undefined;
      this.#due = renewal.due;
      return this.#scheduleRenewal(this.#pauseMs * 60);
    }
    this.#scheduleRenewal(POLL_MS);
  }

  /** A range renewed by a worker; what it left goes to the event loop, as the warm pass's. */
  #renewedRange(renewal: Renewal, snapshot: ZoneSnapshot, response: Parameters<WarmDone>[0]) {
    renewal.running -= 1;
    if (this.#stopped || this.#renewal !== renewal) return;
    if (!response.ok) return this.#renewalFailed(response.error);
    this.#renewed += response.signatures;
    this.#renewedByWorkers += response.signatures;
    renewal.due = Math.min(renewal.due, response.due);
    this.#zone.signer.addSignatures(response.signatures);
    if (response.leftover.length > 0) {
      this.#changed.push(...response.leftover);
      this.start();
    }
    if (!this.#busy && snapshot === this.#zone.snapshot) cacheAnswers(snapshot, response.answers);
    this.#until();
    this.#renewOnWorkers(renewal, snapshot);
  }

  /** A worker failed: renewals are walked on the event loop from now on. */
  #renewalFailed(error: string): void {
    if (this.#threads > 0) this.#log.error({ err: error }, 'renewing worker failed');
    this.#threads = 0;
    this.#pool?.close();
    this.#pool = undefined;
    this.#renewal = undefined;
    this.#renewAfter = ['', 0, 0];
    this.#due = 0;
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#scheduleRenewal(this.#pauseMs);
  }

  #scheduleRenewal(ms: number): void {
    if (this.#stopped) return;
    this.#renewTimer = setTimeout(() => this.#renewSlice(), ms);
    this.#renewTimer.unref();
  }

  #renewSlice(): void {
    this.#renewTimer = undefined;
    const snapshot = this.#zone.snapshot;
    const until = this.#until();
    const now = Math.floor(this.#now() / 1000);
    if (this.#renewal) return this.#renewOnWorkers(this.#renewal, snapshot);
    if (this.#renewAfter[0] === '') {
      if (now < this.#due) return this.#scheduleRenewal(this.#pauseMs * 60);
      this.#passDue = Math.min(this.#zone.signer.earliestRenewal(now), now + 3600);
      // A pass of the workers, unless a warm pass holds them (then it waits) or there are none.
      if (this.#pass?.workers) return this.#scheduleRenewal(POLL_MS * 20);
      if (this.#pass === undefined && this.#poolFor(snapshot) !== undefined) {
        this.#renewal = { after: '', end: false, running: 0, now, due: this.#passDue };
        return this.#renewOnWorkers(this.#renewal, snapshot);
      }
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
        if (this.#clock() >= until) return this.#scheduleRenewal(this.#pauseMs);
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

/** A renewal pass on the workers: ranges after `after`, `running` of them under way. */
interface Renewal {
  after: string;
  end: boolean;
  running: number;
  /** When it began (s), and the earliest renewal time of what it left or made. */
  readonly now: number;
  due: number;
}

/** Puts answers packed by a worker (warm-worker.ts) in the answer cache, while it has room. */
function cacheAnswers(snapshot: ZoneSnapshot, packed: Uint8Array): void {
  const cache = snapshot.answers;
  if (!cache.serves(snapshot)) return;
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  for (let at = 0; at < packed.length;) {
    const nameLength = packed[at] as number;
    const name = packed.subarray(at + 1, at + 1 + nameLength);
    at += 1 + nameLength;
    const length = view.getUint16(at + 6);
    const bytes = packed.subarray(at + 8, at + 8 + length);
    if (!cache.hasRoom(length + 2 * nameLength)) return;
    cache.put(
      name,
      nameLength,
      nameHash(name),
      view.getUint16(at),
      true,
      view.getUint32(at + 2),
      bytes,
    );
    at += 8 + length;
  }
}

/** Where a whole pass stands, for the image generation it is for. */
interface Pass {
  /** The last number warmed ('' before the first). */
  after: string;
  generation: number;
  /** Numbers read after `after`, warmed from `index` on; `end`: the last read was short. */
  batch: string[];
  index: number;
  end: boolean;
  /** Whether the pass is the workers' (in ranges after `after`, `running` of them under way). */
  workers: boolean;
  running: number;
}
