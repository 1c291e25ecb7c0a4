import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { enumNameFor } from '@switchboard/e164';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { reservePort, run, waitFor } from './tools.js';

// Knot DNS and BIND secondaries (explicit configs, 127.0.0.1, random ports) of a directory
// whose operator opted in to the pre-signed NSEC3 transfer (walkable; the default is unsigned,
// see online-signing-secondaries.test.ts) transfer the zone over TSIG, follow changes after
// NOTIFY, and answer the same signed records, which delv validates with the directory's key as
// the only trust anchor.

interface SecondaryKind {
  readonly name: string;
  config(o: {
    dir: string;
    port: number;
    primaryPort: number;
    keyName: string;
    secret: string;
  }): string;
  command(dir: string): readonly [string, readonly string[]];
  /** What the server logs when it accepts a NOTIFY. */
  readonly notifyLog: RegExp;
  /** What it logs for a successful incremental transfer, if it says so at info level. */
  readonly ixfrLog?: RegExp;
}

const KNOT: SecondaryKind = {
  name: 'Knot DNS (knotd)',
  config: ({ dir, port, primaryPort, keyName, secret }) => `server:
    rundir: "${dir}"
    listen: 127.0.0.1@${port}
key:
  - id: ${keyName}
    algorithm: hmac-sha256
    secret: ${secret}
remote:
  - id: primary
    address: 127.0.0.1@${primaryPort}
    key: ${keyName}
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    key: ${keyName}
    action: notify
database:
    storage: "${dir}/db"
template:
  - id: default
    storage: "${dir}"
zone:
  - domain: ${APEX}
    master: primary
    acl: notify_from_primary
log:
  - target: stderr
    any: info
`,
  command: (dir) => ['knotd', ['-c', join(dir, 'server.conf')]],
  notifyLog: /notify, incoming, remote 127\.0\.0\.1@\d+/i,
  ixfrLog: /IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/,
};

const BIND: SecondaryKind = {
  name: 'BIND 9 (named)',
  config: ({ dir, port, primaryPort, keyName, secret }) => `key "${keyName}" {
  algorithm hmac-sha256;
  secret "${secret}";
};
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "${APEX}" {
  type secondary;
  primaries port ${primaryPort} { 127.0.0.1 key "${keyName}"; };
  allow-notify { key "${keyName}"; };
  file "${dir}/secondary.zone";
};
`,
  command: (dir) => ['named', ['-g', '-c', join(dir, 'server.conf')]],
  notifyLog: /received notify for zone|notify from 127\.0\.0\.1#\d+/i,
};

const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);

describe.each([KNOT, BIND])('$name, secondary of pre-signed NSEC3', (kind: SecondaryKind) => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let server: ChildProcess | undefined;
  let secondaryPort: string;
  let secondaryDir: string;
  let anchor: string;
  const serverLog: Buffer[] = [];

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
    // Held until the secondary starts: the directory, started first, binds port 0 itself and
    // could otherwise be given this port (it would then answer the secondary's queries itself).
    const held = await reservePort();
    const port = held.port;
    secondaryPort = String(port);
    t = await startTestDirectory({
      providers: [acme],
      extra: { secondaries: [{ host: '127.0.0.1', port }], transferForm: 'presigned-nsec3' },
    });
    const put = await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(put.status).toBe(201);
    anchor = join(t.dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    secondaryDir = join(t.dataDir, 'secondary');
    await mkdir(secondaryDir, { recursive: true });
    const key = t.dir.tsigKey;
    const config = kind.config({
      dir: secondaryDir,
      port,
      primaryPort: t.dir.dns.port,
      keyName: key.name,
      secret: Buffer.from(key.secret).toString('base64'),
    });
    await mkdir(join(secondaryDir, 'db'), { recursive: true });
    await writeFile(join(secondaryDir, 'server.conf'), config);
    const [program, args] = kind.command(secondaryDir);
    await held.release();
    server = spawn(program, [...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server.stderr?.on('data', (chunk: Buffer) => serverLog.push(chunk));
    const loaded = await waitFor(
      async () => (await serialAt(secondaryPort)) === t.dir.zone.snapshot.serial,
    );
    expect(loaded).toBe(true);
  });

  afterAll(async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
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
    const fromSecondary = await run('kdig', [
      '+short',
      '-p',
      secondaryPort,
      '@127.0.0.1',
      NAME,
      'NAPTR',
    ]);
    expect(fromSecondary.stdout.split('\n').sort()).toEqual(fromPrimary.stdout.split('\n').sort());
    expect(fromSecondary.stdout).toContain('matrix:u/alice:example.net');
    const validated = await run('delv', [
      '-a',
      anchor,
      `+root=${APEX}`,
      '-p',
      secondaryPort,
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
      secondaryPort,
      '@127.0.0.1',
      enumNameFor('+14155552671', APEX),
      'NAPTR',
    ]);
    expect(denial.stdout).toContain('; negative response, fully validated');
  });

  it('follows a change after NOTIFY (its own refresh timer is 300 s)', async () => {
    const before = await serialAt(secondaryPort);
    const other = '+33142685300';
    const put = await t.request(acme, 'PUT', `/v1/numbers/${other}`, {
      identityKey: identity().publicBase64,
      contacts: [CONTACTS[1]],
    });
    expect(put.status).toBe(201);
    const target = t.dir.zone.snapshot.serial;
    expect(target).toBeGreaterThan(before);
    expect(await waitFor(async () => (await serialAt(secondaryPort)) === target)).toBe(true);
    const answer = await run('kdig', [
      '+short',
      '-p',
      secondaryPort,
      '@127.0.0.1',
      enumNameFor(other, APEX),
      'NAPTR',
    ]);
    expect(answer.stdout).toContain('xmpp:alice@xmpp.example.net');
    const withdrawn = await t.request(acme, 'DELETE', `/v1/numbers/${other}`);
    expect(withdrawn.status).toBe(204);
    const afterDelete = t.dir.zone.snapshot.serial;
    expect(await waitFor(async () => (await serialAt(secondaryPort)) === afterDelete)).toBe(true);
    const gone = await run('kdig', [
      '-p',
      secondaryPort,
      '@127.0.0.1',
      enumNameFor(other, APEX),
      'NAPTR',
    ]);
    expect(gone.stdout).toMatch(/status: NXDOMAIN/);
    // The secondary logs each NOTIFY it accepted from the primary (TSIG-signed, per its ACL).
    const log = Buffer.concat(serverLog).toString();
    expect(log).toMatch(kind.notifyLog);
    if (kind.ixfrLog) {
      expect(log).toMatch(kind.ixfrLog);
      expect(log).not.toMatch(/fallback to AXFR/);
    }
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
    // IXFR from a version transferred before: new SOA, old SOA, deletions, new SOA, additions.
    const current = t.dir.zone.snapshot.serial;
    const ixfr = await run('kdig', [
      '-y',
      `hmac-sha256:${key.name}:${Buffer.from(key.secret).toString('base64')}`,
      '-p',
      port,
      '@127.0.0.1',
      APEX,
      `IXFR=${current - 1}`,
    ]);
    const soaSerials = [...ixfr.stdout.matchAll(/\tSOA\t\S+ \S+ (\d+) /g)].map((m) => Number(m[1]));
    expect(soaSerials).toEqual([current, current - 1, current, current]);
    expect(allowed.stdout).toContain(NAME);
    expect(allowed.stdout + allowed.stderr).not.toMatch(/BADSIG|BADKEY|failed/i);
  });
});
