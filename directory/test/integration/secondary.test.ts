import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { enumNameFor } from '@switchboard/e164';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

// A Knot DNS secondary (knotd with an explicit config) transfers the zone over TSIG,
// follows changes after NOTIFY, and answers the same signed records, which delv validates.

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);

describe('Knot DNS secondary', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let knot: ChildProcess | undefined;
  let knotPort: string;
  let knotDir: string;
  let anchor: string;
  const knotLog: Buffer[] = [];

  const serialAt = async (port: string): Promise<number> => {
    const res = await run('kdig', [
      '+short',
      '+timeout=1',
      '+retry=0',
      '-p',
      port,
      '@127.0.0.1',
      APEX,
      'SOA',
    ]);
    return Number(res.stdout.trim().split(/\s+/)[2] ?? NaN);
  };

  beforeAll(async () => {
    const port = await freePort();
    knotPort = String(port);
    t = await startTestDirectory({
      providers: [acme],
      extra: { secondaries: [{ host: '127.0.0.1', port }] },
    });
    const put = await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(put.status).toBe(201);
    anchor = join(t.dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    knotDir = join(t.dataDir, 'knot');
    await mkdir(knotDir, { recursive: true });
    const key = t.dir.tsigKey;
    const config = `server:
    rundir: "${knotDir}"
    listen: 127.0.0.1@${port}
key:
  - id: ${key.name}
    algorithm: hmac-sha256
    secret: ${Buffer.from(key.secret).toString('base64')}
remote:
  - id: primary
    address: 127.0.0.1@${t.dir.dns.port}
    key: ${key.name}
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    key: ${key.name}
    action: notify
database:
    storage: "${knotDir}/db"
template:
  - id: default
    storage: "${knotDir}"
zone:
  - domain: ${APEX}
    master: primary
    acl: notify_from_primary
log:
  - target: stderr
    any: info
`;
    await writeFile(join(knotDir, 'knot.conf'), config);
    knot = spawn('knotd', ['-c', join(knotDir, 'knot.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    knot.stderr?.on('data', (chunk: Buffer) => knotLog.push(chunk));
    const loaded = await waitFor(
      async () => (await serialAt(knotPort)) === t.dir.zone.snapshot.serial,
    );
    expect(loaded).toBe(true);
  });

  afterAll(async () => {
    if (knot?.pid !== undefined && knot.exitCode === null) {
      const exited = new Promise((resolve) => knot!.once('exit', resolve));
      knot.kill('SIGTERM');
      await exited;
    }
    await t.close();
  });

  it('transferred the zone over TSIG and answers the same NAPTR set, validated by delv', async () => {
    const fromPrimary = await run('kdig', [
      '+short',
      '-p',
      String(t.dir.dns.port),
      '@127.0.0.1',
      NAME,
      'NAPTR',
    ]);
    const fromKnot = await run('kdig', ['+short', '-p', knotPort, '@127.0.0.1', NAME, 'NAPTR']);
    expect(fromKnot.stdout.split('\n').sort()).toEqual(fromPrimary.stdout.split('\n').sort());
    expect(fromKnot.stdout).toContain('matrix:u/alice:example.net');
    const validated = await run('delv', [
      '-a',
      anchor,
      `+root=${APEX}`,
      '-p',
      knotPort,
      '@127.0.0.1',
      NAME,
      'NAPTR',
    ]);
    expect(validated.stdout).toContain('; fully validated');
    const denial = await run('delv', [
      '-a',
      anchor,
      `+root=${APEX}`,
      '-p',
      knotPort,
      '@127.0.0.1',
      enumNameFor('+14155552671', APEX),
      'NAPTR',
    ]);
    expect(denial.stdout).toContain('; negative response, fully validated');
  });

  it('follows a change after NOTIFY (its own refresh timer is 300 s)', async () => {
    const before = await serialAt(knotPort);
    const other = '+33142685300';
    const put = await t.request(acme, 'PUT', `/v1/numbers/${other}`, {
      identityKey: identity().publicBase64,
      contacts: [CONTACTS[1]],
    });
    expect(put.status).toBe(201);
    const target = t.dir.zone.snapshot.serial;
    expect(target).toBeGreaterThan(before);
    expect(await waitFor(async () => (await serialAt(knotPort)) === target)).toBe(true);
    const answer = await run('kdig', [
      '+short',
      '-p',
      knotPort,
      '@127.0.0.1',
      enumNameFor(other, APEX),
      'NAPTR',
    ]);
    expect(answer.stdout).toContain('xmpp:alice@xmpp.example.net');
    const withdrawn = await t.request(acme, 'DELETE', `/v1/numbers/${other}`);
    expect(withdrawn.status).toBe(204);
    const afterDelete = t.dir.zone.snapshot.serial;
    expect(await waitFor(async () => (await serialAt(knotPort)) === afterDelete)).toBe(true);
    const gone = await run('kdig', [
      '-p',
      knotPort,
      '@127.0.0.1',
      enumNameFor(other, APEX),
      'NAPTR',
    ]);
    expect(gone.stdout).toMatch(/status: NXDOMAIN/);
    // Knot logs each NOTIFY it accepted from the primary (TSIG-signed, per its ACL).
    expect(Buffer.concat(knotLog).toString()).toMatch(/notify, incoming, remote 127\.0\.0\.1@\d+/i);
  });

  it('refuses AXFR without TSIG from an address not listed, and allows it with the key', async () => {
    const port = String(t.dir.dns.port);
    const refused = await run('kdig', ['-p', port, '@127.0.0.1', APEX, 'AXFR']);
    expect(refused.stdout + refused.stderr).toMatch(/REFUSED/);
    const key = t.dir.tsigKey;
    const allowed = await run('kdig', [
      '-y',
      `hmac-sha256:${key.name}:${Buffer.from(key.secret).toString('base64')}`,
      '-p',
      port,
      '@127.0.0.1',
      APEX,
      'AXFR',
    ]);
    expect(allowed.stdout).toMatch(/NSEC3PARAM/);
    expect(allowed.stdout).toContain(NAME);
    expect(allowed.stdout + allowed.stderr).not.toMatch(/BADSIG|BADKEY|failed/i);
  });
});
