// The bridge benchmark's table and goal lines (issue 13: every bridged path >= 0.8x the direct
// path in the same run).
import { cell } from './report.js';
import { ratio } from './stats.js';

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
  'lost',
  'CPU us/msg: bridge',
  'Prosody',
  'Kamailio',
  'client CPU',
];

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
