// The audit against real peers: Knot DNS serving the ENUM apex (once with online signing and
// compact denial plus response rate limiting, once as a classic pre-signed NSEC zone made by BIND's
// dnssec-signzone), and two small HTTP services, one that keeps its OpenAPI promises and one that
// does not. delv does the DNSSEC validation from the anchors in the trust list.
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditReport } from '../../src/audit/index.js';
import { runAudit } from '../../src/audit/index.js';
import { auditHttpApi } from '../../src/audit/http-checks.js';
import type { DirectoryEntry, ProviderEntry, TrustAnchor } from '../../src/index.js';
import {
  boardFingerprint,
  createDevelopmentTrustList,
  generateEd25519KeyPair,
  publicKeyRecord,
  serializeTrustList,
} from '../../src/index.js';

const APEX = 'e164.switchboard.test.';
const NOW = new Date();
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

const ZONE = `$ORIGIN ${APEX}
$TTL 300
@ SOA ns.${APEX} hostmaster.${APEX} 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
4.3.2.1.5.5.5.1.9.4 NAPTR 10 100 "u" "E2U+sip" "!^.*$!sip:alice@example.com!" .
6.5.4.3.5.5.5.1.9.4 NAPTR 10 100 "u" "E2U+sip" "!^.*$!sip:bob@example.com!" .
`;

function run(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { cwd }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd} failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

interface Knot {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly dir: string;
}

async function startKnot(zoneFile: string, online: boolean): Promise<Knot> {
  const dir = await mkdtemp(join(tmpdir(), 'charter-knot-'));
  await writeFile(join(dir, 'zone.zone'), zoneFile);
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = randomInt(20000, 60000);
    const conf = `server:
    rundir: "${dir}"
    listen: 127.0.0.1@${port}
    pidfile: "${dir}/knot.pid"
database:
    storage: "${dir}"
    kasp-db: "${dir}/kasp"
log:
  - target: stderr
    any: warning
${
  online
    ? `mod-rrl:
  - id: rrl
    rate-limit: 20
    slip: 2
policy:
  - id: p13
    algorithm: ecdsap256sha256
    single-type-signing: on
mod-onlinesign:
  - id: os
    policy: p13
`
    : ''
}template:
  - id: default
    storage: "${dir}"
${online ? '    global-module: mod-rrl/rrl\n' : ''}zone:
  - domain: ${APEX}
    file: "zone.zone"
${online ? '    module: mod-onlinesign/os\n' : ''}`;
    await writeFile(join(dir, 'knot.conf'), conf);
    const proc = spawn('knotd', ['-c', join(dir, 'knot.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 50; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      if (proc.exitCode !== null) break;
      const soa = await run(
        'kdig',
        ['@127.0.0.1', '-p', String(port), APEX, 'SOA', '+short', '+timeout=1', '+retry=0'],
        dir,
      ).catch(() => '');
      if (soa.includes('hostmaster')) return { proc, port, dir };
    }
    proc.kill('SIGTERM');
    if (!/address already in use/i.test(stderr) && attempt > 1)
      throw new Error(`knotd did not start: ${stderr}`);
  }
  throw new Error('knotd did not start');
}

async function stopKnot(k: Knot | undefined): Promise<void> {
  if (k === undefined) return;
  if (k.proc.exitCode === null) {
    const exited = new Promise((r) => k.proc.once('exit', r));
    k.proc.kill('SIGTERM');
    await exited;
  }
  await rm(k.dir, { recursive: true, force: true });
}

/** The KSK's DNSKEY as served, as a trust-list anchor. */
async function dnskeyAnchor(port: number, dir: string): Promise<TrustAnchor> {
  const out = await run('kdig', ['@127.0.0.1', '-p', String(port), APEX, 'DNSKEY', '+short'], dir);
  const line = out.split('\n').find((l) => l.startsWith('257 '));
  if (line === undefined) throw new Error('no KSK served');
  const [flags, , alg, ...key] = line.trim().split(/\s+/);
  return {
    type: 'DNSKEY',
    flags: Number(flags),
    protocol: 3,
    algorithm: Number(alg),
    publicKey: key.join(''),
  };
}

/** A zone pre-signed with an NSEC chain, the way a naive operator would (BIND dnssec-signzone). */
async function presignedZone(): Promise<{ text: string; ds: TrustAnchor }> {
  const dir = await mkdtemp(join(tmpdir(), 'charter-sign-'));
  try {
    await writeFile(join(dir, 'zone.zone'), ZONE);
    await run('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', '-f', 'KSK', '-K', dir, APEX], dir);
    await run('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', '-K', dir, APEX], dir);
    await run(
      'dnssec-signzone',
      ['-q', '-S', '-K', dir, '-o', APEX, '-f', join(dir, 'signed.zone'), join(dir, 'zone.zone')],
      dir,
    );
    const ksk = (await readdir(dir)).find((f) => f.endsWith('.key') && f.startsWith('K'));
    const files = await readdir(dir);
    const dsLines = await Promise.all(
      files
        .filter((f) => f.endsWith('.key'))
        .map((f) => run('dnssec-dsfromkey', ['-2', join(dir, f)], dir).catch(() => '')),
    );
    const dsLine = dsLines.find((l) => l.includes(' DS '));
    if (ksk === undefined || dsLine === undefined) throw new Error('signing failed');
    const fields = dsLine.trim().split(/\s+/);
    const [keyTag, alg, digestType, digest] = fields.slice(fields.indexOf('DS') + 1);
    return {
      text: await readFile(join(dir, 'signed.zone'), 'utf8'),
      ds: {
        type: 'DS',
        keyTag: Number(keyTag),
        algorithm: Number(alg),
        digestType: Number(digestType),
        digest: (digest ?? '').toLowerCase(),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- HTTP services ----------------------------------------------------------------------

const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'audit fixture', version: '1' },
  security: [],
  paths: {
    '/healthz': {
      get: {
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
          },
        },
      },
    },
    '/v1/keys/bundles/{address}': {
      get: {
        parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '404': { $ref: '#/components/responses/Problem' },
          '429': { $ref: '#/components/responses/Problem' },
        },
      },
    },
    '/v1/account': {
      get: {
        security: [{ deviceSignature: [] }],
        responses: {
          '200': { description: 'mine' },
          '401': { $ref: '#/components/responses/Problem' },
        },
      },
    },
  },
  components: {
    securitySchemes: { deviceSignature: { type: 'apiKey', in: 'header', name: 'Signature' } },
    schemas: {
      Health: {
        type: 'object',
        required: ['status'],
        additionalProperties: false,
        properties: { status: { enum: ['ok', 'degraded'] } },
      },
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
        },
      },
    },
    responses: {
      Problem: {
        description: 'problem',
        content: {
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        },
      },
    },
  },
};

function startHttp(good: boolean): Promise<Server> {
  let hits = 0;
  const server = createServer((req, res) => {
    const problem = (status: number, title: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
      res.end(JSON.stringify({ type: 'about:blank', title, status }));
    };
    const url = req.url ?? '/';
    if (url === '/openapi.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(OPENAPI));
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(good ? { status: 'ok' } : { status: 'ok', uptime: 5 }));
    } else if (url.startsWith('/v1/keys/bundles/')) {
      hits += 1;
      if (good && hits > 50) problem(429, 'rate limited', { 'retry-after': '10' });
      else problem(404, 'no such address');
    } else if (url === '/v1/account') {
      if (good) problem(401, 'signature required');
      else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }
    } else if (good) {
      problem(404, 'not found');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---- the tests ----------------------------------------------------------------------------

let online: Knot | undefined;
let presigned: Knot | undefined;
let goodHttp: Server;
let badHttp: Server;
let report: AuditReport;
let badReport: AuditReport;
let work: string;

const directoryEntry = (id: string, port: number, anchor: TrustAnchor): DirectoryEntry => ({
  id,
  operator: 'Audit Fixture e.V.',
  apex: APEX,
  trustAnchors: [anchor],
  nameservers: [`127.0.0.1:${port}`],
  publishEndpoint: 'http://127.0.0.1:8053',
  status: 'active',
});

const status = (r: AuditReport, target: string, id: string): string | undefined =>
  r.checks.find((c) => c.target.startsWith(target) && c.id === id)?.status;
const reason = (r: AuditReport, target: string, id: string): string =>
  r.checks.find((c) => c.target.startsWith(target) && c.id === id)?.reason ?? '';

const providerEntry = (baseUrl: string): ProviderEntry => ({
  id: 'good',
  name: 'Provider under audit',
  apiBaseUrl: baseUrl,
  publishingKeys: [publicKeyRecord(generateEd25519KeyPair())],
  networks: ['sip'],
  accreditation: { notBefore: '2020-01-01T00:00:00Z', notAfter: '2099-01-01T00:00:00Z' },
  status: 'active',
});

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'charter-audit-'));
  online = await startKnot(ZONE, true);
  const zone = await presignedZone();
  presigned = await startKnot(zone.text, false);
  goodHttp = await startHttp(true);
  badHttp = await startHttp(false);
  const url = (s: Server): string => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

  const good = createDevelopmentTrustList({
    now: NOW,
    directories: [
      directoryEntry('dir-online', online.port, await dnskeyAnchor(online.port, online.dir)),
    ],
    providers: [providerEntry(url(goodHttp))],
  });
  await writeFile(join(work, 'list.json'), serializeTrustList(good.envelope));
  await writeFile(join(work, 'fp'), boardFingerprint(good.devBoard.board));
  report = await runAudit({
    list: good.verified,
    now: NOW,
    directoryId: 'dir-online',
    probeName: `4.3.2.1.5.5.5.1.9.4.${APEX}`,
    providerId: 'good',
    burst: 200,
  });

  const bad = createDevelopmentTrustList({
    now: NOW,
    directories: [directoryEntry('dir-presigned', presigned.port, zone.ds)],
    providers: [providerEntry(url(badHttp))],
  });
  const presignedReport = await runAudit({
    list: bad.verified,
    now: NOW,
    directoryId: 'dir-presigned',
    providerId: 'good',
    burst: 100,
  });
  // The online-signed zone audited with the other zone's DS as its anchor.
  const wrong = createDevelopmentTrustList({
    now: NOW,
    directories: [directoryEntry('dir-wrong-anchor', online.port, zone.ds)],
  });
  const wrongAnchor = await runAudit({
    list: wrong.verified,
    now: NOW,
    directoryId: 'dir-wrong-anchor',
    burst: 10,
  });
  badReport = { ...presignedReport, checks: [...presignedReport.checks, ...wrongAnchor.checks] };
});

afterAll(async () => {
  await stopKnot(online);
  await stopKnot(presigned);
  await new Promise((r) => goodHttp?.close(r));
  await new Promise((r) => badHttp?.close(r));
  await rm(work, { recursive: true, force: true });
});

describe('audit of a directory that meets the charter (Knot, online signing, RRL)', () => {
  test.each([
    'listed-active',
    'dnssec-signed',
    'dnssec-validates',
    'dnssec-validates-probe',
    'no-zone-walking',
    'no-zone-transfer',
    'dns-rate-limit',
  ])('%s passes', (id) => {
    expect([
      id,
      status(report, 'directory dir-online', id),
      reason(report, 'directory dir-online', id),
    ]).toEqual([id, 'pass', expect.any(String)]);
  });

  test('query logging cannot be seen from outside and is reported as skipped', () => {
    expect(status(report, 'directory dir-online', 'no-query-logging')).toBe('skip');
  });
});

describe('audit of a directory that does not (pre-signed NSEC zone, no RRL)', () => {
  test('DNSSEC still validates to its anchor', () => {
    expect(status(badReport, 'directory dir-presigned', 'dnssec-validates')).toBe('pass');
  });

  test('the NSEC chain is reported as walkable, naming the next real name', () => {
    expect(status(badReport, 'directory dir-presigned', 'no-zone-walking')).toBe('fail');
    expect(reason(badReport, 'directory dir-presigned', 'no-zone-walking')).toMatch(
      /NSEC .* -> .* reveals an existing name/,
    );
  });

  test('no rate limiting is reported', () => {
    expect(status(badReport, 'directory dir-presigned', 'dns-rate-limit')).toBe('fail');
  });

  test('a trust anchor that does not match the zone fails validation with delv’s reason', () => {
    expect(status(badReport, 'directory dir-wrong-anchor', 'dnssec-validates')).toBe('fail');
    expect(reason(badReport, 'directory dir-wrong-anchor', 'dnssec-validates')).toMatch(
      /resolution failed|no valid/,
    );
  });
});

describe('audit of provider APIs against their OpenAPI document', () => {
  test('a conforming provider passes every HTTP check', () => {
    const http = report.checks.filter((c) => c.target.startsWith('provider good'));
    expect(http.map((c) => [c.id, c.status])).toEqual(
      expect.arrayContaining([
        ['openapi-document', 'pass'],
        ['openapi GET /healthz', 'pass'],
        ['openapi GET /v1/keys/bundles/{address}', 'pass'],
        ['openapi GET /v1/account', 'pass'],
        ['problem-json', 'pass'],
        ['http-rate-limit', 'pass'],
      ]),
    );
    expect(reason(report, 'provider good', 'http-rate-limit')).toMatch(/429.*Retry-After/);
    expect(report.passed).toBe(true);
  });

  test('a non-conforming one fails with reasons', () => {
    const r = badReport;
    expect(status(r, 'provider good', 'openapi GET /healthz')).toBe('fail');
    expect(reason(r, 'provider good', 'openapi GET /healthz')).toMatch(
      /does not match the declared schema/,
    );
    expect(reason(r, 'provider good', 'openapi GET /v1/account')).toMatch(
      /200 without credentials/,
    );
    expect(status(r, 'provider good', 'problem-json')).toBe('fail');
    expect(status(r, 'provider good', 'http-rate-limit')).toBe('fail');
    expect(r.passed).toBe(false);
  });
});

describe('rate-limit probing when no endpoint declares 429', () => {
  const withoutLimits = JSON.stringify({
    ...OPENAPI,
    paths: { '/healthz': OPENAPI.paths['/healthz'], '/v1/account': OPENAPI.paths['/v1/account'] },
  });
  const baseUrl = (): string => `http://127.0.0.1:${(goodHttp.address() as AddressInfo).port}`;

  test('a provider API must still be limited: the first plain GET is hammered', async () => {
    const checks = await auditHttpApi({
      baseUrl: baseUrl(),
      openapi: { path: 'inline', text: withoutLimits },
      burst: 40,
      timeoutMs: 2000,
    });
    const rl = checks.find((c) => c.id === 'http-rate-limit');
    expect([rl?.status, rl?.reason]).toEqual(['fail', 'GET /healthz: 40x200; never limited']);
  });

  test('the directory publish API is skipped: its repeatable calls need a provider signature', async () => {
    const checks = await auditHttpApi({
      baseUrl: baseUrl(),
      openapi: { path: 'inline', text: withoutLimits },
      rateLimitUndeclared: false,
      burst: 40,
      timeoutMs: 2000,
    });
    expect(checks.find((c) => c.id === 'http-rate-limit')?.status).toBe('skip');
  });
});

describe('the audit command', () => {
  test('prints a pass/fail report and exits 0 when everything required passes', async () => {
    const fp = await readFile(join(work, 'fp'), 'utf8');
    const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          CLI,
          'audit',
          '--list',
          join(work, 'list.json'),
          '--board-fingerprint',
          fp,
          '--directory',
          'dir-online',
          '--provider',
          'good',
          '--burst',
          '200',
        ],
        (err, stdout) => resolve({ code: err === null ? 0 : Number(err.code), stdout }),
      );
    });
    expect(out.stdout).toMatch(
      /^PASS {2}directory dir-online @127\.0\.0\.1:\d+ {2}dnssec-validates$/m,
    );
    expect(out.stdout).toMatch(/checks: delv \(BIND\) resolves/);
    expect(out.stdout).toMatch(/^PASSED: \d+ passed, 0 failed, 1 skipped$/m);
    expect(out.code).toBe(0);
  });
});
