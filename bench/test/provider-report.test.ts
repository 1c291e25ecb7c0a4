import type { HttpLoadResult } from '../src/load/http-load.js';
import type { ProviderRow } from '../src/report/provider-report.js';
import { providerGoalLines, providerTable } from '../src/report/provider-report.js';

const run = (rps: number, cpuUsPerRequest: number, extra: Partial<HttpLoadResult> = {}) => {
  const seconds = 10;
  const ok = rps * seconds;
  return {
    rps,
    ok,
    non2xx: 0,
    errors: 0,
    p50Ms: 0.5,
    p99Ms: 3,
    seconds,
    serverCpuMs: (ok * cpuUsPerRequest) / 1000,
    ...extra,
  } satisfies HttpLoadResult;
};

describe('provider bench report', () => {
  // Provider 3,000/s; the bare app 12,000/s through expressServer and 4,000/s through
  // createServer (the 4x the project measured between the two).
  const rows: ProviderRow[] = [
    {
      dialect: 'sqlite',
      operation: 'bundle fetch',
      provider: run(3000, 300),
      bare: run(12000, 75),
      plain: run(4000, 225),
    },
    {
      dialect: 'sqlite',
      operation: 'bundle fetch at 1000/s',
      provider: run(1000, 300, { targetRate: 1000, p99Ms: 4 }),
      bare: run(1000, 75, { targetRate: 1000 }),
      plain: run(1000, 225, { targetRate: 1000 }),
    },
  ];

  it('reports the ratio to the like-for-like baseline and to plain createServer', () => {
    const [header, free, fixed] = providerTable(rows);
    const col = (name: string): number => header?.indexOf(name) ?? -1;
    expect(free?.[col('x bare')]).toBe('0.25');
    expect(free?.[col('x bare CPU')]).toBe('0.25');
    expect(free?.[col('x plain')]).toBe('0.75');
    expect(free?.[col('x plain CPU')]).toBe('0.75');
    expect(free?.[col('bare (expressServer) req/s')]).toBe('12,000');
    expect(free?.[col('plain (createServer) req/s')]).toBe('4,000');
    // At a fixed rate all answer the same rate: no throughput ratio.
    expect(fixed?.[col('x bare')]).toBe('-');
    expect(fixed?.[col('x plain CPU')]).toBe('0.75');
  });

  it('judges the goal against the bare app served the same way, not against createServer', () => {
    const lines = providerGoalLines(rows, 1000);
    expect(lines[0]).toMatch(/expressServer\): 0\.25x, NOT met/);
    expect(lines[0]).toMatch(/http\.createServer: 0\.75x$/);
    expect(lines[1]).toMatch(/p99 under 10 ms at 1000 req\/s: 4 ms at 1000 req\/s served, met/);
  });

  it('shows a row whose baseline is missing as an error', () => {
    const [, row] = providerTable([{ dialect: 'postgres', operation: 'registration' }]);
    expect(row?.[2]).toBe('error');
    expect(row?.at(-1)).toBe('a server was not measured');
  });
});
