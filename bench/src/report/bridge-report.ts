// The bridge benchmark's table and goal lines (issue 13: every bridged path >= 0.8x the direct
// path in the same run).
import { cell } from './report.js';
import { ratio } from '../load/stats.js';

/** One path's figures over the rounds of a run. */
export interface PathSummary {
  readonly key: string;
  readonly label: string;
  readonly via: string;
  /** Direct paths this one is compared with (empty: a direct path); the slower one counts. */
  readonly baselines: readonly string[];
  /** Best round. */
  readonly msgsPerSecond: number;
  readonly msgsPerSecondRounds: readonly number[];
  /** Messages never seen, over every run of the path. */
  readonly lost: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** How late the bench's own sender was (p99) in the round that gave `p99Ms`. */
  readonly senderLateP99Ms: number;
  /** The bridge process's CPU per message at saturation (bridged paths only). */
  readonly bridgeCpuUsPerMsg: number | null;
  /** The servers' CPU per message at saturation (Kamailio with its child processes). */
  readonly prosodyCpuUsPerMsg: number;
  readonly kamailioCpuUsPerMsg: number;
  /** The clients' (this process's) CPU share of one core at saturation, the busiest round. */
  readonly clientCpuShare: number;
}

/** The goal: a bridged path carries at least this share of its direct path's rate. */
export const GOAL_RATIO = 0.8;

export const BRIDGE_REPORT_HEADER = [
  'path',
  'through',
  'msgs/s',
  'x direct',
  'p50 ms',
  'p99 ms',
  'sender late p99 ms',
  'lost',
  'CPU us/msg: bridge',
  'Prosody',
  'Kamailio',
  'client CPU',
];

/** One paced round's latency figures. */
export interface PacedRound {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly senderLateP99Ms: number;
}

/**
 * A path's latency over its paced rounds: p50 is the lower median of the rounds' p50s (with
 * two rounds, the better one: a round whose sender stalled must not decide the typical case),
 * p99 the worst round's, with how late the sender itself was in that round.
 */
export function latencyOfRounds(rounds: readonly PacedRound[]): PacedRound {
  if (rounds.length === 0) throw new Error('no paced rounds');
  const p50s = rounds.map((r) => r.p50Ms).sort((a, b) => a - b);
  const worst = rounds.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
  return {
    p50Ms: p50s[Math.floor((p50s.length - 1) / 2)]!,
    p99Ms: worst.p99Ms,
    senderLateP99Ms: worst.senderLateP99Ms,
  };
}

/** Above this, a paced round's sender was late enough to count in its latency (ms). */
export const SENDER_LATE_NOTE_MS = 50;

/** A note per path whose worst paced round had a late sender: that much is not the path's. */
export function senderLateLines(paths: readonly PathSummary[]): string[] {
  return paths
    .filter((p) => p.senderLateP99Ms > SENDER_LATE_NOTE_MS)
    .map(
      (p) =>
        `${p.label}: the bench's own sender was up to ${cell(p.senderLateP99Ms, 1)} ms late (p99) in the round of its p99 (the client process did not get the CPU); latency counts from each message's due time, so that much of it is not the path's`,
    );
}

/** The direct path a bridged one is measured against: the slowest of its baselines. */
export function baselineOf(
  path: PathSummary,
  all: readonly PathSummary[],
): PathSummary | undefined {
  const candidates = path.baselines
    .map((k) => all.find((p) => p.key === k))
    .filter((p): p is PathSummary => p !== undefined);
  if (candidates.length === 0) return undefined;
  return candidates.reduce((a, b) => (b.msgsPerSecond < a.msgsPerSecond ? b : a));
}

export function bridgeReportRows(paths: readonly PathSummary[]): string[][] {
  return paths.map((p) => {
    const base = baselineOf(p, paths);
    return [
      p.label,
      p.via,
      cell(p.msgsPerSecond),
      base ? `${cell(ratio(p.msgsPerSecond, base.msgsPerSecond), 2)} (${base.label})` : '-',
      cell(p.p50Ms, 1),
      cell(p.p99Ms, 1),
      cell(p.senderLateP99Ms, 1),
      cell(p.lost),
      p.bridgeCpuUsPerMsg === null ? '-' : cell(p.bridgeCpuUsPerMsg),
      cell(p.prosodyCpuUsPerMsg),
      cell(p.kamailioCpuUsPerMsg),
      `${cell(p.clientCpuShare * 100)}%`,
    ];
  });
}

/** One line per bridged path: met or not, with the figures that decide it. */
export function goalLines(paths: readonly PathSummary[]): string[] {
  const lines: string[] = [];
  for (const p of paths) {
    const base = baselineOf(p, paths);
    if (!base) continue;
    const r = ratio(p.msgsPerSecond, base.msgsPerSecond);
    const met = r !== null && r >= GOAL_RATIO && p.lost === 0;
    lines.push(
      `${p.label} ${met ? 'meets' : 'misses'} the goal (>= ${GOAL_RATIO}x ${base.label}, nothing lost): ${cell(r, 2)}x (${cell(p.msgsPerSecond)} vs ${cell(base.msgsPerSecond)} msgs/s), ${cell(p.lost)} lost`,
    );
  }
  return lines;
}
