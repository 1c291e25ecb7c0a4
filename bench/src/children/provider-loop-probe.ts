// Preload for a benchmark server child, to see where its latency tail comes from:
//   SB_BENCH_CHILD_NODE_ARGS="--import ./dist/src/children/provider-loop-probe.js" npm run bench:provider -w bench -- --keep
// Every 5 s (and at exit) it writes to the child's stderr (its server.log in the work dir) the
// event-loop delay percentiles of the last 5 s (perf_hooks.monitorEventLoopDelay, 1 ms
// resolution) and the GC pauses seen (count, total, longest, how many over 2 ms, by kind:
// 1 scavenge, 2 mark-compact, 4 incremental marking, 8 weak callbacks). Not loaded by default:
// the histogram's timer is itself a little work on the server's core.
import type { PerformanceEntry } from 'node:perf_hooks';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();

const gc = { count: 0, totalMs: 0, maxMs: 0, over2Ms: 0, kinds: new Map<number, number>() };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
    if (entry.duration > 2) gc.over2Ms++;
    const kind = entry.detail?.kind ?? 0;
    gc.kinds.set(kind, (gc.kinds.get(kind) ?? 0) + 1);
  }
}).observe({ entryTypes: ['gc'] });

function report(when: string): void {
  const ms = (ns: number): string => (ns / 1e6).toFixed(2);
  const kinds = [...gc.kinds].map(([k, n]) => `${k}:${n}`).join(',');
  process.stderr.write(
    `loop-probe ${when} pid ${process.pid}: delay p50 ${ms(delay.percentile(50))} p99 ${ms(delay.percentile(99))} p99.9 ${ms(delay.percentile(99.9))} max ${ms(delay.max)} ms; gc ${gc.count} pauses, ${gc.totalMs.toFixed(0)} ms, longest ${gc.maxMs.toFixed(1)} ms, ${gc.over2Ms} over 2 ms, kinds ${kinds || '-'}\n`,
  );
  delay.reset();
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0, over2Ms: 0 });
  gc.kinds.clear();
}

setInterval(() => report('5s'), 5000).unref();
process.on('exit', () => report('exit'));
