// The audit: checks a running directory and/or provider against the charter's technical
// requirements and returns a report. All I/O is here and in the check modules; nothing is printed.
import { toTimestamp } from '../governance/edit.js';
import { mayTrustDirectory, mayTrustProvider } from '../decisions/trust.js';
import type { VerifiedTrustList } from '../trust-list/types.js';
import { auditDirectory } from './directory-checks.js';
import { parseServer } from './dns-client.js';
import { auditHttpApi } from './http-checks.js';
import type { AuditCheck, AuditReport } from './report.js';

export interface AuditOptions {
  readonly list: VerifiedTrustList;
  readonly now: Date;
  readonly directoryId?: string;
  /** Overrides the list's first nameserver (`host:port`). */
  readonly dns?: string;
  readonly probeName?: string;
  /** The directory publish API's OpenAPI document: when given, that API is audited too. */
  readonly directoryOpenapi?: { readonly path: string; readonly text: string };
  readonly providerId?: string;
  /** Overrides the list's API base URL (e.g. an internal address of the same service). */
  readonly providerUrl?: string;
  readonly openapi?: { readonly path: string; readonly text: string };
  readonly rateLimitPath?: string;
  /** Requests/queries in the rate-limit bursts (default 300). */
  readonly burst?: number;
  /** Per-request timeout (default 2000 ms). */
  readonly timeoutMs?: number;
}

/**
 * Runs the audit. Every check reports what it checks and why it passed, failed or was skipped;
 * `passed` is false when any check failed.
 */
export async function runAudit(o: AuditOptions): Promise<AuditReport> {
  const checks: AuditCheck[] = [];
  const burst = o.burst ?? 300;
  const timeoutMs = o.timeoutMs ?? 2000;

  if (o.directoryId !== undefined) {
    const target = `directory ${o.directoryId}`;
    const d = mayTrustDirectory(o.list, o.directoryId, o.now);
    checks.push({
      id: 'listed-active',
      target,
      checks: 'the directory is in the verified trust list and active',
      status: d.trusted ? 'pass' : 'fail',
      reason: d.trusted ? `active, apex ${d.entry.apex}` : d.message,
    });
    const entry = d.entry;
    if (entry !== undefined) {
      const nameserver = o.dns ?? entry.nameservers[0];
      if (nameserver !== undefined) {
        const results = await auditDirectory({
          directory: entry,
          server: parseServer(nameserver),
          ...(o.probeName === undefined ? {} : { probeName: o.probeName }),
          burst,
          timeoutMs,
        });
        checks.push(...results.map((c) => ({ ...c, target: `${target} @${nameserver}` })));
      }
      if (o.directoryOpenapi !== undefined) {
        const results = await auditHttpApi({
          baseUrl: entry.publishEndpoint,
          openapi: o.directoryOpenapi,
          rateLimitUndeclared: false,
          burst,
          timeoutMs,
        });
        checks.push(
          ...results.map((c) => ({ ...c, target: `${target} ${entry.publishEndpoint}` })),
        );
      }
    }
  }

  if (o.providerId !== undefined) {
    const target = `provider ${o.providerId}`;
    const p = mayTrustProvider(o.list, o.providerId, o.now);
    checks.push({
      id: 'listed-active',
      target,
      checks:
        'the provider is in the verified trust list, active and inside its accreditation window',
      status: p.trusted ? 'pass' : 'fail',
      reason: p.trusted ? `active until ${p.entry.accreditation.notAfter}` : p.message,
    });
    const entry = p.entry;
    const baseUrl = o.providerUrl ?? entry?.apiBaseUrl;
    if (baseUrl !== undefined) {
      const results = await auditHttpApi({
        baseUrl,
        ...(o.openapi === undefined ? {} : { openapi: o.openapi }),
        ...(o.rateLimitPath === undefined ? {} : { rateLimitPath: o.rateLimitPath }),
        burst,
        timeoutMs,
      });
      checks.push(...results.map((c) => ({ ...c, target: `${target} ${baseUrl}` })));
    }
  }

  return {
    generatedAt: toTimestamp(o.now),
    listVersion: o.list.version,
    passed: checks.every((c) => c.status !== 'fail'),
    checks,
  };
}
