// The provider benchmark's table and goal lines (pure; bench/src/cli/provider-bench.ts runs it).
import type { HttpLoadResult } from '../load/http-load.js';
import { cpuPerRequestUs } from '../load/http-load.js';
import { cell } from './report.js';
import { ratio } from '../load/stats.js';

/** The targets of issue 5, against the like-for-like baseline (issue 14 item 10). */
export const PROVIDER_GOAL = { ratio: 0.5, p99Ms: 10, dialect: 'sqlite' } as const;

/** One operation on one dialect: the provider and the two bare baselines, same run. */
export interface ProviderRow {
  readonly dialect: 'sqlite' | 'postgres';
  readonly operation: string;
  /** The provider API, served by service-kit's `expressServer` (as `npm start` serves it). */
  provider?: HttpLoadResult;
  /** The bare express app served the same way: `expressServer(app)`. The goals use this. */
  bare?: HttpLoadResult;
  /** The same bare app served as express apps usually are: `http.createServer(app)`. */
  plain?: HttpLoadResult;
  error?: string;
}

export const PROVIDER_LEGEND =
  "Provider API on loopback, served by service-kit expressServer as npm start serves it; bundle fetches are signed (RFC 9421, device key of a registered asker account, fresh nonce each, signed before the timed part), with the per-client, per-target, per-asker and per-pair bundle limits lifted for the bench, and every answer must be 2xx or the run fails; bare = a bare express 5 app (express.json(), same response size, no database) that verifies the same signatures (keys and replay cache in memory), served the same way (expressServer), the like-for-like baseline; plain = that bare app served by plain http.createServer(app); x bare / x plain = provider req/s over theirs, same run; CPU us/req = CPU time of the server process (all threads, not PostgreSQL itself) per 2xx response; x ... CPU = their CPU us/req over the provider's, the throughput ratio of two CPU-bound servers, not skewed by other load on the machine";

/** Baseline CPU per request over the provider's (what the throughput ratio is when CPU-bound). */
export function cpuRatio(provider: HttpLoadResult, baseline: HttpLoadResult): number | undefined {
  const p = cpuPerRequestUs(provider);
  const b = cpuPerRequestUs(baseline);
  return p === undefined || b === undefined || p === 0 ? undefined : b / p;
}

const HEADER = [
  'dialect',
  'operation',
  'provider req/s',
  'p50 ms',
  'p99 ms',
  'CPU us/req',
  'non-2xx',
  'bare (expressServer) req/s',
  'p50 ms',
  'p99 ms',
  'CPU us/req',
  'plain (createServer) req/s',
  'p50 ms',
  'p99 ms',
  'CPU us/req',
  'x bare',
  'x bare CPU',
  'x plain',
  'x plain CPU',
];

function figures(r: HttpLoadResult): string[] {
  return [cell(r.rps), cell(r.p50Ms, 1), cell(r.p99Ms, 1), cell(cpuPerRequestUs(r))];
}

/** Header and one line per row; a row missing a server shows its error. */
export function providerTable(rows: readonly ProviderRow[]): string[][] {
  const body = rows.map((r) => {
    const { provider, bare, plain } = r;
    if (r.error !== undefined || !provider || !bare || !plain) {
      const row = new Array<string>(HEADER.length).fill('');
      row[0] = r.dialect;
      row[1] = r.operation;
      row[2] = 'error';
      row[HEADER.length - 1] = (r.error ?? 'a server was not measured').slice(0, 60);
      return row;
    }
    // At a fixed rate every server answers the same rate: latency is what counts there.
    const fixed = provider.targetRate !== undefined;
    return [
      r.dialect,
      r.operation,
      ...figures(provider),
      cell(provider.non2xx + provider.errors),
      ...figures(bare),
      ...figures(plain),
      fixed ? '-' : cell(ratio(provider.rps, bare.rps), 2),
      cell(cpuRatio(provider, bare), 2),
      fixed ? '-' : cell(ratio(provider.rps, plain.rps), 2),
      cell(cpuRatio(provider, plain), 2),
    ];
  });
  return [HEADER, ...body];
}

/** Whether the issue-5 goals are met (against the like-for-like baseline), one line each. */
export function providerGoalLines(rows: readonly ProviderRow[], rate: number): string[] {
  const find = (dialect: string, fixed: boolean): ProviderRow | undefined =>
    rows.find(
      (r) =>
        r.dialect === dialect &&
        r.operation.startsWith('bundle fetch') &&
        (r.provider?.targetRate !== undefined) === fixed &&
        r.error === undefined,
    );
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const lines: string[] = [];
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const label = dialect === PROVIDER_GOAL.dialect ? 'goal' : 'for reference';
    const free = find(dialect, false);
    if (free?.provider && free.bare) {
      const x = ratio(free.provider.rps, free.bare.rps) ?? 0;
      const cpu = cpuRatio(free.provider, free.bare);
      const plain = free.plain ? ratio(free.provider.rps, free.plain.rps) : null;
      lines.push(
        `${label}: ${dialect} bundle fetch at least ${PROVIDER_GOAL.ratio}x bare express served the same way (expressServer): ${x.toFixed(2)}x, ${verdict(x >= PROVIDER_GOAL.ratio)}${cpu === undefined ? '' : ` (by CPU per request: ${cpu.toFixed(2)}x, ${verdict(cpu >= PROVIDER_GOAL.ratio)})`}${plain === null ? '' : `; against bare express on plain http.createServer: ${plain.toFixed(2)}x`}`,
      );
    }
    const fixed = find(dialect, true)?.provider;
    if (fixed) {
      // The rate must actually have been served, or the latency says nothing.
      const served = fixed.rps >= 0.95 * rate;
      lines.push(
        `${label}: ${dialect} bundle fetch p99 under ${PROVIDER_GOAL.p99Ms} ms at ${rate} req/s: ${fixed.p99Ms} ms at ${fixed.rps} req/s served, ${verdict(served && fixed.p99Ms < PROVIDER_GOAL.p99Ms)}`,
      );
    }
  }
  return lines;
}
