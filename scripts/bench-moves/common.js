// Helpers of scripts/bench-moves.js: options, CPU time of a process, medians and ratios.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function option(args, name, fallback) {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

let clockTicks;
/** User + system CPU time (ms) of process `pid` and all its threads so far. */
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Per-build medians and head/base ratio (median and range) of CPU ms per 1,000 operations. */
export function summarise(name, samples) {
  const ratios = samples.head.map((h, i) => h / samples.base[i]);
  const r3 = (x) => Number(x.toFixed(3));
  return {
    workload: name,
    baseCpuMsPer1000: samples.base.map(r3),
    headCpuMsPer1000: samples.head.map(r3),
    baseMedian: r3(median(samples.base)),
    headMedian: r3(median(samples.head)),
    ratio: r3(median(ratios)),
    ratioMin: r3(Math.min(...ratios)),
    ratioMax: r3(Math.max(...ratios)),
  };
}
