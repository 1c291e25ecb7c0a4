import { baselineOf, bridgeReportRows, goalLines } from '../src/bridge-report.js';
import type { PathSummary } from '../src/bridge-report.js';

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
});
