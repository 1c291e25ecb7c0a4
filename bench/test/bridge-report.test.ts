import {
  baselineOf,
  bridgeReportRows,
  goalLines,
  latencyOfRounds,
  senderLateLines,
} from '../src/report/bridge-report.js';
import type { PathSummary } from '../src/report/bridge-report.js';

const path = (key: string, msgsPerSecond: number, baselines: string[] = []): PathSummary => ({
  key,
  label: key,
  via: 'somewhere',
  baselines,
  msgsPerSecond,
  msgsPerSecondRounds: [msgsPerSecond],
  lost: 0,
  p50Ms: 1.25,
  p99Ms: 9.5,
  senderLateP99Ms: 0.5,
  bridgeCpuUsPerMsg: baselines.length > 0 ? 300 : null,
  prosodyCpuUsPerMsg: 100,
  kamailioCpuUsPerMsg: 50,
  clientCpuShare: 0.07,
});

describe('bridge bench report', () => {
  const direct = [path('xmpp-xmpp', 6000), path('sip-sip', 1500)];

  it('measures a bridged path against the slower direct path it crosses', () => {
    const bridged = path('xmpp-sip', 1300, ['xmpp-xmpp', 'sip-sip']);
    expect(baselineOf(bridged, [...direct, bridged])?.key).toBe('sip-sip');
    expect(baselineOf(direct[0]!, direct)).toBeUndefined();
    const rows = bridgeReportRows([...direct, bridged]);
    expect(rows[2]).toEqual([
      'xmpp-sip',
      'somewhere',
      '1,300',
      '0.87 (sip-sip)',
      '1.3',
      '9.5',
      '0.5',
      '0',
      '300',
      '100',
      '50',
      '7%',
    ]);
    expect(rows[0]![3]).toBe('-');
  });

  it('meets the goal only at 0.8x or more with nothing lost', () => {
    const paths = [
      ...direct,
      path('xmpp-sip', 1200, ['xmpp-xmpp', 'sip-sip']),
      path('sip-xmpp', 1190, ['xmpp-xmpp', 'sip-sip']),
      { ...path('matrix-xmpp', 5000, ['xmpp-xmpp']), lost: 1 },
    ];
    const lines = goalLines(paths);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^xmpp-sip meets the goal .*: 0\.80x/);
    expect(lines[1]).toMatch(/^sip-xmpp misses the goal .*: 0\.79x/);
    expect(lines[2]).toMatch(/^matrix-xmpp misses the goal .*, 1 lost$/);
  });

  it('takes p50 from the lower median round and p99 with its sender lateness from the worst', () => {
    // The run of 2026-12-03 03:40: one SIP -> XMPP round's sender stalled about 3.9 s.
    const stalled = { p50Ms: 5239.6, p99Ms: 6773.1, senderLateP99Ms: 3892.7 };
    const normal = { p50Ms: 33.6, p99Ms: 189.7, senderLateP99Ms: 70.6 };
    expect(latencyOfRounds([stalled, normal])).toEqual({
      p50Ms: 33.6,
      p99Ms: 6773.1,
      senderLateP99Ms: 3892.7,
    });
    expect(latencyOfRounds([normal, stalled, { ...normal, p50Ms: 40 }]).p50Ms).toBe(40);
    expect(() => latencyOfRounds([])).toThrow(/no paced rounds/);
    const lines = senderLateLines([
      { ...path('sip-xmpp', 500, ['xmpp-xmpp']), senderLateP99Ms: 3892.7 },
      path('xmpp-sip', 500, ['xmpp-xmpp']),
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sip-xmpp: the bench's own sender was up to 3,892\.7 ms late/);
  });
});
