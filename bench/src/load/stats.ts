// Small statistics over latency samples (seconds).

export interface LatencySummary {
  readonly count: number;
  readonly avgMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile of sorted samples; `q` in [0, 1]. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Summarises latency samples given in seconds; results in milliseconds. */
export function summarise(samplesSeconds: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samplesSeconds).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const ms = (v: number): number => Math.round(v * 1e6) / 1e3;
  return {
    count: sorted.length,
    avgMs: sorted.length === 0 ? Number.NaN : ms(sum / sorted.length),
    p50Ms: ms(percentile(sorted, 0.5)),
    p90Ms: ms(percentile(sorted, 0.9)),
    p99Ms: ms(percentile(sorted, 0.99)),
    maxMs: ms(percentile(sorted, 1)),
  };
}

/** `a / b` rounded to two decimals, or null when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return null;
  return Math.round((a / b) * 100) / 100;
}
