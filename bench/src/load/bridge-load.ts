// Load patterns of the bridge benchmark over any message path: the most a path carries with a
// window of messages in flight, and latency at a fixed, evenly paced rate (open loop, measured
// from each message's due time, so a late sender or a queue counts against the path).
import { readFileSync, readdirSync } from 'node:fs';
import { summarise } from './stats.js';
import type { LatencySummary } from './stats.js';

/** One way a message can travel; `send` must put message `seq` with `text` on its way. */
export interface MessagePath {
  readonly name: string;
  /** The number in each message's mark, unique per path in a run. */
  readonly tag: number;
  send(seq: number, text: string): void;
}

/** Current time in ms with sub-millisecond resolution. */
export const nowMs = (): number => performance.now();

/** What receivers report to: the run in progress (marks of other paths are ignored). */
export class Receipts {
  #tag = -1;
  #onArrival: ((seq: number, at: number) => void) | undefined;
  #onRefusal: ((seq: number) => void) | undefined;

  listen(
    tag: number,
    onArrival: (seq: number, at: number) => void,
    onRefusal?: (seq: number) => void,
  ): void {
    this.#tag = tag;
    this.#onArrival = onArrival;
    this.#onRefusal = onRefusal;
  }

  stop(): void {
    this.#tag = -1;
    this.#onArrival = undefined;
    this.#onRefusal = undefined;
  }

  readonly onMark = (tag: number, seq: number): void => {
    if (tag === this.#tag) this.#onArrival?.(seq, nowMs());
  };

  /** A sender learnt that a message will not arrive (a SIP error answer). */
  readonly onRefused = (tag: number, seq: number): void => {
    if (tag === this.#tag) this.#onRefusal?.(seq);
  };
}

export interface MaxResult {
  readonly msgsPerSecond: number;
  readonly sent: number;
  readonly received: number;
  /** Messages not seen within the loss timeout. */
  readonly lost: number;
  readonly seconds: number;
}

export interface MaxOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Messages sent and not yet received, at most. */
  readonly window: number;
  readonly size: number;
  /** A message not received this long after it was sent counts as lost (ms). */
  readonly lossAfterMs: number;
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Keeps `window` messages in flight for warm-up plus `seconds`; the rate is what arrived
 * during the measured seconds. Duplicates are counted once.
 */
export async function runMax(
  path: MessagePath,
  receipts: Receipts,
  opts: MaxOptions,
): Promise<MaxResult> {
  const sentAt: number[] = [];
  const got = new Uint8Array(1 << 24);
  let received = 0;
  let lost = 0;
  let oldest = 0; // lowest seq neither received nor counted lost
  let wake: (() => void) | undefined;
  let refused = 0;
  receipts.listen(
    path.tag,
    (seq) => {
      // 0 outstanding, 1 received, 2 refused by a server, 3 timed out
      if (seq >= sentAt.length || got[seq] === 1 || got[seq] === 3) return;
      if (got[seq] === 2) refused -= 1; // refused, and yet it came
      got[seq] = 1;
      received += 1;
      wake?.();
    },
    (seq) => {
      // Refused by a server: lost, and its place in the window is free again at once.
      if (seq >= sentAt.length || got[seq]) return;
      got[seq] = 2;
      refused += 1;
      wake?.();
    },
  );
  const start = nowMs();
  const measureFrom = start + opts.warmupSeconds * 1000;
  const end = measureFrom + opts.seconds * 1000;
  let atMeasureStart = -1;
  let atMeasureEnd = 0;
  try {
    while (nowMs() < end) {
      if (atMeasureStart < 0 && nowMs() >= measureFrom) atMeasureStart = received;
      while (
        oldest < sentAt.length &&
        (got[oldest] || nowMs() - sentAt[oldest]! > opts.lossAfterMs)
      ) {
        if (!got[oldest]) {
          got[oldest] = 3; // timed out: lost, even should it come later
          lost += 1;
        }
        oldest += 1;
      }
      const outstanding = sentAt.length - received - lost - refused;
      for (let room = opts.window - outstanding; room > 0 && sentAt.length < got.length; room--) {
        const seq = sentAt.length;
        sentAt.push(nowMs());
        path.send(seq, markText(path.tag, seq, opts.size));
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    }
    atMeasureEnd = received;
    // Let what is in flight arrive before the next run starts.
    await drain(() => sentAt.length - received - refused, opts.lossAfterMs);
  } finally {
    receipts.stop();
  }
  const counted = atMeasureEnd - Math.max(0, atMeasureStart);
  return {
    msgsPerSecond: Math.round(counted / opts.seconds),
    sent: sentAt.length,
    received,
    lost: sentAt.length - received,
    seconds: opts.seconds,
  };
}

export interface PacedResult {
  readonly rate: number;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly latency: LatencySummary;
  /** How late the sender itself was, p99 (ms): part of every latency above. */
  readonly senderLateP99Ms: number;
}

/**
 * Sends `rate` messages a second, evenly spaced, for `seconds`; each message's latency runs
 * from its due time to its arrival. Messages not seen within `lossAfterMs` of the end are lost.
 */
export async function runPaced(
  path: MessagePath,
  receipts: Receipts,
  opts: { rate: number; seconds: number; size: number; lossAfterMs: number },
): Promise<PacedResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const due = new Float64Array(total);
  const latency = new Float64Array(total).fill(Number.NaN);
  const late = new Float64Array(total);
  let received = 0;
  receipts.listen(path.tag, (seq, at) => {
    if (seq >= total || !Number.isNaN(latency[seq]!)) return;
    latency[seq] = (at - due[seq]!) / 1000;
    received += 1;
  });
  const start = nowMs() + 20;
  for (let i = 0; i < total; i++) due[i] = start + (i * 1000) / opts.rate;
  let next = 0;
  try {
    while (next < total) {
      const now = nowMs();
      while (next < total && due[next]! <= now) {
        late[next] = now - due[next]!;
        path.send(next, markText(path.tag, next, opts.size));
        next += 1;
      }
      if (next < total) await tick(Math.max(0, Math.min(1, due[next]! - nowMs() - 0.5)));
    }
    await drain(() => total - received, opts.lossAfterMs);
  } finally {
    receipts.stop();
  }
  const samples = Array.from(latency).filter((v) => !Number.isNaN(v));
  const lateSorted = Array.from(late).sort((a, b) => a - b);
  return {
    rate: opts.rate,
    sent: total,
    received,
    lost: total - received,
    latency: summarise(samples),
    senderLateP99Ms: Math.round((lateSorted[Math.floor(total * 0.99)] ?? 0) * 1000) / 1000,
  };
}

/** Waits until nothing is outstanding, or until nothing arrived for `idleMs`. */
async function drain(outstanding: () => number, idleMs: number): Promise<void> {
  let last = outstanding();
  let since = nowMs();
  while (outstanding() > 0) {
    await tick(10);
    const n = outstanding();
    if (n !== last) {
      last = n;
      since = nowMs();
    } else if (nowMs() - since > idleMs) {
      return;
    }
  }
}

/** The text a benchmark message carries: its mark padded to `size` characters. */
export function markText(tag: number, seq: number, size: number): string {
  const mark = `sbbench-${tag}-${seq} `;
  return mark + 'x'.repeat(Math.max(0, size - mark.length));
}

/** CPU seconds (user + system) used so far by these processes and all their descendants. */
export function cpuSeconds(pids: readonly number[]): number {
  const tickHz = 100;
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(name), {
        ppid: Number(fields[1]),
        cpu: (Number(fields[11]) + Number(fields[12])) / tickHz,
      });
    } catch {
      // the process ended meanwhile
    }
  }
  const wanted = new Set(pids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, s] of stats) {
      if (!wanted.has(pid) && wanted.has(s.ppid)) {
        wanted.add(pid);
        grew = true;
      }
    }
  }
  let total = 0;
  for (const pid of wanted) total += stats.get(pid)?.cpu ?? 0;
  return total;
}
