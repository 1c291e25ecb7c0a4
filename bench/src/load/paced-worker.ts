// A worker thread that runs one paced load (paced.ts) and posts its outcome back: its own
// V8 heap holds only the slice's requests, so its GC pauses are short and not caused by what
// the main thread keeps. It counts its own GC pauses for the results.
import type { PerformanceEntry } from 'node:perf_hooks';
import { PerformanceObserver } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { PacedOutcome, PacedSpec } from './paced.js';
import { PacedGenerator } from './paced.js';

const spec = workerData as PacedSpec;
const gc = { count: 0, totalMs: 0, maxMs: 0 };
let measuring = false;
const observer = new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const entry of list.getEntries() as PerformanceEntry[]) {
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
  }
});
observer.observe({ entryTypes: ['gc'] });

const generator = new PacedGenerator(spec);
await generator.connectAll(Math.max(1, spec.connections));
measuring = true;
const seconds = await generator.run();
measuring = false;
// GC entries are delivered asynchronously: let the last ones of the run arrive.
await new Promise((resolve) => setTimeout(resolve, 20));
observer.disconnect();
const outcome: PacedOutcome = { ...generator.outcome(seconds), gc };
parentPort?.postMessage(outcome, [outcome.latencies.buffer, outcome.lags.buffer]);
