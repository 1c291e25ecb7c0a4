// The audit as a library (`@switchboard/charter/audit`): network I/O, so kept out of the pure core.
export type { AuditOptions } from './run.js';
export { runAudit } from './run.js';
export type { AuditCheck, AuditReport, CheckStatus } from './report.js';
export { formatAuditReport } from './report.js';
export { delvAnchorFile } from './directory-checks.js';
