// The directory bench's results: per-server rounds and their medians, the DNS and signing tables,
// the notes under them and the goals of issues 3 and 15 (pure functions, unit-tested).
import type { DnsperfRun } from '../load/dnsperf.js';
import type { AnswerCheck } from '../load/probe.js';
import { cell } from './report.js';
import type { OurSignerPhases, SigningRun } from '../load/signing.js';
import { ratio } from '../load/stats.js';

/** One start-measure-stop cycle of one server. */
export interface PeerRound {
  error?: string;
  /** Seconds from spawn (after set-up) until measured: `warm` for ours (`/healthz`), first answer for the others. */
  startSeconds?: number;
  /** A mixed run sent more queries than its file holds: some unpublished names were asked twice. */
  missRepeated?: boolean;
  /** Per mixed run: the unpublished names its file holds and how many the run asked for. */
  unpublished?: Partial<Record<MixedRun, { inFile: number; asked: number }>>;
  /** The server was not run: why (it would not fit in memory). */
  skipped?: string;
  /** Seconds from the end of set-up to the first authoritative SOA answer. */
  firstAnswerSeconds?: number;
  /** Seconds of set-up before start-up (our directory: seeding its database by bulk import). */
  setupSeconds?: number;
  /** PSS of the server's process tree after the measurements, MB. */
  memoryMb?: number;
  check?: AnswerCheck;
  /** Saturated: half published / half unpublished numbers. */
  mixed?: DnsperfRun;
  /** Saturated: published numbers only. */
  existing?: DnsperfRun;
  /** Mixed queries at a fixed rate below every server's capacity: latency without queueing. */
  fixedRate?: DnsperfRun;
}

export interface PeerResult {
  id: string;
  description: string;
  /** Not a DNS server (see PeerDefinition.reference). */
  reference?: boolean;
  rounds: PeerRound[];
  /** Medians over the rounds that completed. */
  mixedQps?: number;
  existingQps?: number;
  fixedP50Existing?: number;
  fixedP99Existing?: number;
  fixedP50Missing?: number;
  fixedP99Missing?: number;
  /** q/s dnsperf achieved in the fixed-rate run (below the target: the server was saturated). */
  fixedQps?: number;
}

function median(values: readonly number[]): number | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export type MixedRun = 'warmup' | 'mixed' | 'fixedRate';

export function summarisePeer(result: PeerResult): void {
  const ok = result.rounds.filter((r) => r.error === undefined && r.skipped === undefined);
  const m = (f: (r: PeerRound) => number | undefined): number | undefined =>
    median(ok.map(f).filter((x): x is number => x !== undefined));
  const set = <K extends keyof PeerResult>(key: K, value: PeerResult[K] | undefined): void => {
    if (value !== undefined) result[key] = value;
  };
  set(
    'mixedQps',
    m((r) => r.mixed?.summary.qps),
  );
  set(
    'existingQps',
    m((r) => r.existing?.summary.qps),
  );
  set(
    'fixedP50Existing',
    m((r) => r.fixedRate?.latencyExisting.p50Ms),
  );
  set(
    'fixedP99Existing',
    m((r) => r.fixedRate?.latencyExisting.p99Ms),
  );
  set(
    'fixedP50Missing',
    m((r) => r.fixedRate?.latencyMissing.p50Ms),
  );
  set(
    'fixedP99Missing',
    m((r) => r.fixedRate?.latencyMissing.p99Ms),
  );
  set(
    'fixedQps',
    m((r) => r.fixedRate?.summary.qps),
  );
}

export type SigningResult = SigningRun & {
  cores?: number;
  phases?: OurSignerPhases;
  verify?: { ok: boolean; detail: string };
};

export interface Goal {
  goal: string;
  measured: number | null | undefined;
  target: number;
  higher: boolean;
  met: boolean | null;
}

/** The DNS table: q/s with ratios to Knot online signing (mixed) and BIND (existing). */
export function dnsTable(
  results: readonly PeerResult[],
  lq: number,
  warmWaited: boolean,
): string[][] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const knotQps = byId.get('knot-online')?.mixedQps;
  const bindQps = byId.get('bind-presigned')?.existingQps;
  // A server that cannot keep up with the fixed rate shows queueing, not its latency.
  const saturated = (r: PeerResult): string =>
    r.fixedQps !== undefined && r.fixedQps < 0.9 * lq
      ? ` (saturated at ${cell(r.fixedQps)} q/s)`
      : '';
  const rows: string[][] = [
    [
      'server',
      'mixed q/s',
      'x knot-online',
      'existing q/s',
      'x bind',
      `p50/p99 ms existing @${lq}`,
      `p50/p99 ms missing @${lq}`,
      'bytes exist/miss',
      'lost',
      'PSS MB',
      'first answer s',
      'warm s',
      'answers',
    ],
  ];
  for (const r of results) {
    const last = r.rounds[r.rounds.length - 1];
    if (r.mixedQps === undefined) {
      const why = last?.skipped ?? (last?.error ?? '').slice(0, 80);
      rows.push([r.id, last?.skipped ? 'skipped' : 'error', ...Array<string>(10).fill(''), why]);
      continue;
    }
    const lost = r.rounds.reduce(
      (n, x) => n + (x.mixed?.summary.lost ?? 0) + (x.existing?.summary.lost ?? 0),
      0,
    );
    rows.push([
      r.id,
      cell(r.mixedQps),
      cell(ratio(r.mixedQps, knotQps), 2),
      cell(r.existingQps),
      cell(ratio(r.existingQps, bindQps), 2),
      `${cell(r.fixedP50Existing, 2)} / ${cell(r.fixedP99Existing, 2)}${saturated(r)}`,
      `${cell(r.fixedP50Missing, 2)} / ${cell(r.fixedP99Missing, 2)}${saturated(r)}`,
      last?.check ? `${last.check.existingBytes}/${last.check.missingBytes}` : '-',
      cell(lost),
      cell(last?.memoryMb),
      cell(last?.firstAnswerSeconds, 1),
      r.id === 'switchboard' && !warmWaited ? 'not waited' : cell(last?.startSeconds, 1),
      r.reference ? 'n/a (echo)' : r.rounds.every((x) => x.check?.ok) ? 'ok' : 'WRONG',
    ]);
  }
  return rows;
}

/** Lines under the DNS table: our set-up (import rate), the unpublished names, missing ratios. */
export function dnsNotes(
  results: readonly PeerResult[],
  args: { readonly count: number; readonly noWarm: boolean },
): string[] {
  const ids = new Set(results.map((r) => r.id));
  const rounds = results.flatMap((r) => r.rounds.map((round) => ({ id: r.id, round })));
  const notes: string[] = [];
  for (const { round } of rounds.filter((x) => x.id === 'switchboard')) {
    if (round.setupSeconds === undefined) continue;
    const rate = args.count / round.setupSeconds;
    notes.push(
      `- Our set-up: \`bulkImport\` of ${cell(args.count)} numbers (JSON Lines in number order) in ${cell(round.setupSeconds, 1)} s, ${cell(rate)} numbers/s.`,
    );
  }
  if (args.noWarm) {
    notes.push(
      '- Our directory measured from its first answer (`--no-warm`): answers signed on demand while measured.',
    );
  }
  const wrapped = rounds.filter((x) => x.round.missRepeated).map((x) => x.id);
  notes.push(
    wrapped.length > 0
      ? `- Unpublished names REPEATED (a run outran its query file) for: ${[...new Set(wrapped)].join(', ')}.`
      : `- No unpublished name was asked twice by any server (each run's names asked/in file in the JSON).`,
  );
  if (!ids.has('knot-online')) notes.push('- `x knot-online`: knot-online not in `--peers`.');
  if (!ids.has('bind-presigned')) notes.push('- `x bind`: bind-presigned not in `--peers`.');
  return notes;
}

function signSeconds(signing: readonly SigningResult[], id: string): number | undefined {
  return signing.find((s) => s.id === id && s.ok)?.seconds;
}

/** The signing table: each signer against dnssec-signzone's defaults and -P on the same cores. */
export function signTable(signing: readonly SigningResult[]): string[][] {
  const refSeconds = signSeconds(signing, 'dnssec-signzone');
  const sameCoresId = (id: string): string =>
    id.endsWith('1core') ? 'dnssec-signzone-1core' : 'dnssec-signzone-P';
  const cpuOf = (id: string): number | undefined =>
    signing.find((s) => s.id === id && s.ok)?.cpuSeconds;
  const signRows: string[][] = [
    [
      'signer',
      'cores',
      'seconds',
      'x dnssec-signzone',
      'x dnssec-signzone -P, same cores',
      'CPU s',
      'CPU x -P, same cores',
      'output',
    ],
  ];
  for (const s of signing) {
    const reference = s.id === 'dnssec-signzone' || s.id === sameCoresId(s.id);
    signRows.push([
      s.id,
      cell(s.cores),
      cell(s.seconds, 2),
      cell(ratio(s.seconds, refSeconds), 2),
      reference ? '-' : cell(ratio(s.seconds, signSeconds(signing, sameCoresId(s.id))), 2),
      cell(s.cpuSeconds, 1),
      reference ? '-' : cell(ratio(s.cpuSeconds, cpuOf(sameCoresId(s.id))), 2),
      !s.ok
        ? (s.detail ?? 'failed')
        : s.verify
          ? s.verify.ok
            ? 'dnssec-verify ok'
            : 'dnssec-verify FAILED'
          : 'ok',
    ]);
  }
  return signRows;
}

/** The goals of issues 3 and 15, as measured (export signing against the same work, -P). */
export function goalsOf(results: readonly PeerResult[], signing: readonly SigningResult[]): Goal[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const knotQps = byId.get('knot-online')?.mixedQps;
  const bindQps = byId.get('bind-presigned')?.existingQps;
  const ours = byId.get('switchboard');
  const ourSigning = signing.find((s) => s.id === 'switchboard-parallel');
  const sameWork = signSeconds(signing, 'dnssec-signzone-P');
  return [
    {
      goal: 'walk-proof config >= 1.5x Knot online-signing q/s (mixed)',
      measured: ratio(ours?.mixedQps, knotQps),
      target: 1.5,
      higher: true,
    },
    {
      goal: 'existing numbers >= BIND 9 q/s',
      measured: ratio(ours?.existingQps, bindQps),
      target: 1,
      higher: true,
    },
    {
      goal: 'export signing (parallel, all cores) < half of dnssec-signzone -P time (same work, all cores)',
      measured: ourSigning?.ok ? ratio(ourSigning.seconds, sameWork) : null,
      target: 0.5,
      higher: false,
    },
  ].map((g) => ({
    ...g,
    met:
      g.measured === null || g.measured === undefined
        ? null
        : g.higher
          ? g.measured >= g.target
          : g.measured < g.target,
  }));
}

export function goalTable(goals: readonly Goal[]): string[][] {
  const goalRows: string[][] = [['goal (issues 3, 15)', 'measured', 'target', 'met']];
  for (const g of goals) {
    goalRows.push([
      g.goal,
      cell(g.measured, 2),
      `${g.higher ? '>=' : '<'} ${g.target}`,
      g.met === null ? 'not measured' : g.met ? 'yes' : 'NO',
    ]);
  }
  return goalRows;
}
