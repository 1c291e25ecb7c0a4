/** The outcome of one audit check. `skip` = could not be checked from outside, with the reason. */
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface AuditCheck {
  /** Stable id, e.g. `dnssec-validates`. */
  readonly id: string;
  /** What was checked: `directory dir-a`, `provider acme`. */
  readonly target: string;
  /** What the check establishes, in one sentence (printed so a reader knows what "pass" means). */
  readonly checks: string;
  readonly status: CheckStatus;
  /** Why it passed, failed or was skipped. */
  readonly reason: string;
}

export interface AuditReport {
  readonly generatedAt: string;
  readonly listVersion: number;
  /** True when no check failed (skips do not fail an audit, they are listed). */
  readonly passed: boolean;
  readonly checks: readonly AuditCheck[];
}

/** The report as text: one block per check, then a summary line. */
export function formatAuditReport(report: AuditReport): string[] {
  const lines = [
    `Switchboard charter audit, trust list version ${report.listVersion}, ${report.generatedAt}`,
    '',
  ];
  for (const c of report.checks) {
    lines.push(`${c.status.toUpperCase().padEnd(4)}  ${c.target}  ${c.id}`);
    lines.push(`      checks: ${c.checks}`);
    lines.push(`      ${c.status === 'pass' ? 'result' : 'reason'}: ${c.reason}`);
  }
  const count = (s: CheckStatus): number => report.checks.filter((c) => c.status === s).length;
  lines.push('');
  lines.push(
    `${report.passed ? 'PASSED' : 'FAILED'}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`,
  );
  return lines;
}
