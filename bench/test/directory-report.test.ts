import type { DnsperfRun } from '../src/load/dnsperf.js';
import type { PeerResult, PeerRound, SigningResult } from '../src/report/directory-report.js';
import {
  dnsNotes,
  dnsTable,
  goalsOf,
  signTable,
  summarisePeer,
} from '../src/report/directory-report.js';

const latency = { count: 0, p50Ms: 0.5, p99Ms: 2 } as unknown as DnsperfRun['latency'];
const run = (qps: number): DnsperfRun => ({
  summary: {
    sent: qps * 10,
    completed: qps * 10,
    lost: 0,
    qps,
    avgLatencyMs: 1,
    runSeconds: 10,
    rcodes: {},
    avgResponseBytes: 300,
  },
  latency,
  latencyExisting: latency,
  latencyMissing: latency,
});
const round = (mixed: number, existing: number, extra: Partial<PeerRound> = {}): PeerRound => ({
  mixed: run(mixed),
  existing: run(existing),
  memoryMb: 100,
  unpublished: { mixed: { inFile: 1_000_000, asked: mixed * 5 } },
  ...extra,
});
const peer = (id: string, rounds: PeerRound[]): PeerResult => {
  const result: PeerResult = { id, description: id, rounds };
  summarisePeer(result);
  return result;
};
const signer = (id: string, seconds: number): SigningResult => ({
  id,
  command: id,
  seconds,
  cpuSeconds: seconds * 1.5,
  ok: true,
  cores: 2,
});

describe('directory bench report', () => {
  const results = [
    peer('switchboard', [round(30_000, 150_000, { setupSeconds: 50 })]),
    peer('knot-online', [round(10_000, 20_000)]),
    peer('bind-presigned', [{ skipped: 'skipped: needs about 26.0 GB' }]),
  ];

  it('measures export signing against dnssec-signzone -P, the same work', () => {
    const signing = [
      signer('dnssec-signzone', 40),
      signer('dnssec-signzone-P', 18),
      signer('switchboard-parallel', 9.9),
    ];
    const [walk, existing, sign] = goalsOf(results, signing);
    expect(walk?.measured).toBe(3);
    expect(walk?.met).toBe(true);
    expect(existing?.met).toBeNull(); // BIND was skipped: not measured, not failed
    expect(sign?.goal).toContain('-P');
    expect(sign?.measured).toBeCloseTo(0.55);
    expect(sign?.met).toBe(false);
    const rows = signTable(signing);
    expect(rows.find((r) => r[0] === 'switchboard-parallel')?.slice(3, 7)).toEqual([
      '0.25',
      '0.55',
      '14.9',
      '0.55',
    ]);
    expect(rows.find((r) => r[0] === 'dnssec-signzone-P')?.[4]).toBe('-');
  });

  it('shows a skipped server with its reason and our import rate', () => {
    const rows = dnsTable(results, 500, true);
    const bind = rows.find((r) => r[0] === 'bind-presigned');
    expect(bind?.[1]).toBe('skipped');
    expect(bind?.[bind.length - 1]).toContain('26.0 GB');
    expect(rows.find((r) => r[0] === 'switchboard')?.[2]).toBe('3.00');
    const notes = dnsNotes(results, { count: 1_000_000, noWarm: false }).join('\n');
    expect(notes).toContain('1,000,000 numbers');
    expect(notes).toContain('20,000 numbers/s');
    expect(notes).toContain('No unpublished name was asked twice');
  });

  it('says when a run repeated unpublished names', () => {
    const wrapped = [peer('switchboard', [round(1000, 1000, { missRepeated: true })])];
    expect(dnsNotes(wrapped, { count: 10, noWarm: true }).join('\n')).toContain(
      'REPEATED (a run outran its query file) for: switchboard',
    );
  });
});
