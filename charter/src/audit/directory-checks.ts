// Technical requirements of a directory (CHARTER.md, "Directories"), checked over the wire.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DirectoryEntry, TrustAnchor } from '../trust-list/types.js';
import type { DnsServer } from './dns-client.js';
import { tcpQuery, udpBurst, udpQuery } from './dns-client.js';
import type { AuditMessage, AuditRecord } from './dns-message.js';
import { RCODE, TYPE } from './dns-message.js';
import type { AuditCheck } from './report.js';

export interface DirectoryAuditOptions {
  readonly directory: DirectoryEntry;
  readonly server: DnsServer;
  /** A name under the apex expected to exist (a published test number), validated too. */
  readonly probeName?: string;
  readonly burst: number;
  readonly timeoutMs: number;
}

type Check = Omit<AuditCheck, 'target'>;

/** `trust-anchors` clause for delv -a (BIND 9.18 syntax; delv treats every form as static). */
export function delvAnchorFile(apex: string, anchors: readonly TrustAnchor[]): string {
  const lines = anchors.map((a) =>
    a.type === 'DS'
      ? `  "${apex}" static-ds ${a.keyTag} ${a.algorithm} ${a.digestType} "${a.digest.toUpperCase()}";`
      : `  "${apex}" static-key ${a.flags} ${a.protocol} ${a.algorithm} "${a.publicKey}";`,
  );
  return `trust-anchors {\n${lines.join('\n')}\n};\n`;
}

function runDelv(
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile(
      'delv',
      [...args],
      { timeout: timeoutMs, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          output: `${stdout}${stderr}`,
          missing: e?.code === 'ENOENT',
        });
      },
    );
  });
}

async function dnssecValidates(o: DirectoryAuditOptions): Promise<Check[]> {
  const what =
    'delv (BIND) resolves the name through this server and validates the DNSSEC chain from the ' +
    'trust anchor(s) listed for this directory alone (the root key is not used)';
  const dir = await mkdtemp(join(tmpdir(), 'charter-audit-'));
  try {
    const anchorFile = join(dir, 'anchors.conf');
    await writeFile(anchorFile, delvAnchorFile(o.directory.apex, o.directory.trustAnchors));
    const names: Array<[string, string]> = [[o.directory.apex, 'SOA']];
    if (o.probeName !== undefined) names.push([o.probeName, 'NAPTR']);
    const out: Check[] = [];
    for (const [name, type] of names) {
      const r = await runDelv(
        [
          '@' + o.server.host,
          '-p',
          String(o.server.port),
          '-a',
          anchorFile,
          `+root=${o.directory.apex}`,
          name,
          type,
        ],
        o.timeoutMs * 4,
      );
      const id = type === 'SOA' ? 'dnssec-validates' : 'dnssec-validates-probe';
      if (r.missing) {
        out.push({
          id,
          checks: what,
          status: 'skip',
          reason: 'delv is not installed on this machine',
        });
        continue;
      }
      const verdict = /^; (fully validated|negative response, fully validated)/m.exec(r.output);
      const problems = r.output
        .split('\n')
        .filter((l) => l.startsWith(';; ') && /fail|no valid|broken|insecure|bogus/i.test(l))
        .map((l) => l.slice(3));
      const failure =
        problems.find((l) => l.startsWith('resolution failed')) ??
        problems[0] ??
        (/^; unsigned answer/m.test(r.output)
          ? 'answer is unsigned'
          : `delv did not validate (exit ${r.code ?? 'timeout'})`);
      out.push(
        verdict !== null
          ? {
              id,
              checks: what,
              status: 'pass',
              reason: `${name} ${type}: ${verdict[1] ?? 'validated'}`,
            }
          : {
              id,
              checks: what,
              status: 'fail',
              reason: `${name} ${type}: ${[failure, ...problems.filter((p) => p !== failure)].slice(0, 3).join('; ')}`,
            },
      );
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function randomEnumName(apex: string): string {
  // 15 random digits: an E.164-shaped name that almost certainly does not exist (RFC 6116).
  const digits = Array.from({ length: 15 }, () => String(randomInt(0, 10)));
  return `${digits.join('.')}.${apex}`;
}

const lower = (n: string): string => n.toLowerCase();

/** An NSEC that names nothing but the query itself or a synthesised successor of it. */
function revealsNothing(r: AuditRecord, qname: string, apex: string): boolean {
  const owner = lower(r.name);
  const next = lower(r.nextName ?? '');
  if (owner === lower(qname)) return true; // compact denial / "black lies" (RFC 9824)
  if (next.startsWith('\\000.')) return true; // RFC 4470 minimally covering: next = \000.<name>
  if (owner === lower(apex) && next === `\\000.${lower(apex)}`) return true;
  return false;
}

async function zoneWalking(o: DirectoryAuditOptions): Promise<Check[]> {
  const apex = o.directory.apex;
  const what =
    'two queries for random, absent numbers: the denial-of-existence proof must not name other ' +
    'numbers (no NSEC chain, no NSEC3 hashes, which are brute-forced for a 10^n number space)';
  const findings: string[] = [];
  let denials = 0;
  for (let i = 0; i < 2; i += 1) {
    const qname = randomEnumName(apex);
    const m: AuditMessage = await udpQuery(o.server, qname, TYPE.NAPTR, o.timeoutMs);
    if (
      m.rcode !== RCODE.NXDOMAIN &&
      !(m.rcode === RCODE.NOERROR && m.answers.every((a) => a.type !== TYPE.NAPTR))
    ) {
      findings.push(`query ${i + 1}: unexpected rcode ${m.rcode}`);
      continue;
    }
    denials += 1;
    const proof = m.authority;
    if (proof.some((r) => r.type === TYPE.NSEC3)) {
      findings.push(
        'the denial uses NSEC3: hashes of a phone-number space are reversed offline in minutes',
      );
    }
    const nsec = proof.filter((r) => r.type === TYPE.NSEC);
    for (const r of nsec) {
      if (!revealsNothing(r, qname, apex)) {
        findings.push(
          `NSEC ${r.name} -> ${r.nextName ?? '?'} reveals an existing name; following the chain walks the zone`,
        );
      }
    }
    if (nsec.length === 0 && !proof.some((r) => r.type === TYPE.NSEC3)) {
      findings.push(
        `query ${i + 1}: the denial carries no NSEC/NSEC3 proof, so validators cannot accept it`,
      );
    }
  }
  if (denials === 0)
    return [{ id: 'no-zone-walking', checks: what, status: 'fail', reason: findings.join('; ') }];
  return [
    findings.length === 0
      ? {
          id: 'no-zone-walking',
          checks: what,
          status: 'pass',
          reason: 'denials are minimal/compact: they name only the query',
        }
      : {
          id: 'no-zone-walking',
          checks: what,
          status: 'fail',
          reason: [...new Set(findings)].join('; '),
        },
  ];
}

async function zoneTransfer(o: DirectoryAuditOptions): Promise<Check> {
  const what =
    'an AXFR of the apex from an arbitrary client over TCP is refused (a transfer is a full enumeration)';
  try {
    const m = await tcpQuery(o.server, o.directory.apex, TYPE.AXFR, o.timeoutMs);
    if (m === null)
      return {
        id: 'no-zone-transfer',
        checks: what,
        status: 'pass',
        reason: 'connection closed without data',
      };
    if (m.rcode !== RCODE.NOERROR) {
      return {
        id: 'no-zone-transfer',
        checks: what,
        status: 'pass',
        reason: `refused with rcode ${m.rcode}`,
      };
    }
    if (m.answers.length > 0) {
      return {
        id: 'no-zone-transfer',
        checks: what,
        status: 'fail',
        reason: `AXFR answered with ${m.answers.length} record(s)`,
      };
    }
    return { id: 'no-zone-transfer', checks: what, status: 'pass', reason: 'empty answer' };
  } catch (err) {
    return {
      id: 'no-zone-transfer',
      checks: what,
      status: 'pass',
      reason: `no transfer (${(err as Error).message})`,
    };
  }
}

async function rateLimit(o: DirectoryAuditOptions): Promise<Check> {
  const what = `${o.burst} identical UDP queries at once from one source: response rate limiting must drop, truncate (TC) or refuse some`;
  const r = await udpBurst(o.server, o.directory.apex, TYPE.SOA, o.burst, o.timeoutMs);
  const limited = r.sent - r.answered + r.truncated + r.refused;
  return limited > 0
    ? {
        id: 'dns-rate-limit',
        checks: what,
        status: 'pass',
        reason: `${r.sent - r.answered} dropped, ${r.truncated} truncated, ${r.refused} refused of ${r.sent}`,
      }
    : {
        id: 'dns-rate-limit',
        checks: what,
        status: 'fail',
        reason: `all ${r.sent} queries answered in full: no sign of response rate limiting`,
      };
}

async function signedAnswers(o: DirectoryAuditOptions): Promise<Check> {
  const what = 'the apex SOA comes back with an RRSIG when the DO bit is set';
  const m = await udpQuery(o.server, o.directory.apex, TYPE.SOA, o.timeoutMs);
  const sig = m.answers.some((r) => r.type === TYPE.RRSIG && r.typeCovered === TYPE.SOA);
  const soa = m.answers.some((r) => r.type === TYPE.SOA);
  if (soa && sig)
    return {
      id: 'dnssec-signed',
      checks: what,
      status: 'pass',
      reason: 'SOA and its RRSIG returned',
    };
  return {
    id: 'dnssec-signed',
    checks: what,
    status: 'fail',
    reason: soa
      ? 'SOA returned without RRSIG'
      : `no SOA for the apex (rcode ${m.rcode}); is this server authoritative for it?`,
  };
}

/** Runs every directory check; a check that cannot reach the server fails with the reason. */
export async function auditDirectory(o: DirectoryAuditOptions): Promise<Check[]> {
  const guard = async (
    id: string,
    what: string,
    run: () => Promise<Check | Check[]>,
  ): Promise<Check[]> => {
    try {
      const r = await run();
      return Array.isArray(r) ? r : [r];
    } catch (err) {
      return [
        { id, checks: what, status: 'fail', reason: `could not run: ${(err as Error).message}` },
      ];
    }
  };
  return [
    ...(await guard('dnssec-signed', 'the apex answers signed', () => signedAnswers(o))),
    ...(await guard('dnssec-validates', 'DNSSEC validates to the listed anchor', () =>
      dnssecValidates(o),
    )),
    ...(await guard('no-zone-walking', 'denial of existence cannot be walked', () =>
      zoneWalking(o),
    )),
    ...(await guard('no-zone-transfer', 'zone transfers are refused', () => zoneTransfer(o))),
    ...(await guard('dns-rate-limit', 'DNS responses are rate limited', () => rateLimit(o))),
    {
      id: 'no-query-logging',
      checks: 'the directory keeps no log of who asked for which number',
      status: 'skip',
      reason: 'not observable from outside; the operator attests it (CHARTER.md, "Directories")',
    },
  ];
}
