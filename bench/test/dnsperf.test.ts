import { parseDnsperfSummary, parseVerboseLine, DnsperfOutputError } from '../src/load/dnsperf.js';
import { percentile, ratio, summarise } from '../src/load/stats.js';

// Captured from dnsperf 2.10.0 (Debian 12) against knotd.
const OUTPUT = `[Status] Testing complete (end of file)

Statistics:

  Queries sent:         4
  Queries completed:    4 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 3 (75.00%), NXDOMAIN 1 (25.00%)
  Average packet size:  request 56, response 392
  Run time (s):         0.006461
  Queries per second:   619.099211

  Average Latency (s):  0.004035 (min 0.000517, max 0.005234)
  Latency StdDev (s):   0.002346
`;

describe('dnsperf output', () => {
  it('reads the statistics block', () => {
    const s = parseDnsperfSummary(OUTPUT);
    expect(s).toMatchObject({ sent: 4, completed: 4, lost: 0, avgResponseBytes: 392 });
    expect(s.qps).toBeCloseTo(619.099211);
    expect(s.avgLatencyMs).toBeCloseTo(4.035);
    expect(s.rcodes).toEqual({ NOERROR: 3, NXDOMAIN: 1 });
  });

  it('says which line is missing from truncated output', () => {
    expect(() => parseDnsperfSummary('Queries sent: 4\n')).toThrow(DnsperfOutputError);
    expect(() => parseDnsperfSummary('Queries sent: 4\n')).toThrow(/Queries completed/);
  });

  it('reads -v lines and skips everything else', () => {
    expect(parseVerboseLine('> NOERROR 3.2.1.e164.switchboard.test NAPTR 0.000517')).toEqual({
      rcode: 'NOERROR',
      name: '3.2.1.e164.switchboard.test',
      type: 'NAPTR',
      seconds: 0.000517,
    });
    expect(parseVerboseLine('[Status] Sending queries')).toBeUndefined();
    expect(parseVerboseLine('> NOERROR name NAPTR soon')).toBeUndefined();
  });
});

describe('latency statistics', () => {
  it('uses nearest-rank percentiles in milliseconds', () => {
    const samples = Array.from({ length: 100 }, (_, i) => (i + 1) / 1000);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(summarise(samples)).toMatchObject({ count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
    expect(summarise([]).count).toBe(0);
  });

  it('gives no ratio when a side is missing', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(undefined, 2)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
  });
});
