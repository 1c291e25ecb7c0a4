// Walk-proof scale-out: two Knot DNS secondaries (explicit configs, 127.0.0.1, free ports,
// their own directories, stopped by PID) transfer the UNSIGNED zone from the directory over
// TSIG, follow NOTIFY with IXFR, and sign online with mod-onlinesign. One imported the
// directory's key (shared key); the other signs with its own key, which the directory publishes
// in its DNSKEY RRset and trust anchor (RFC 8901 multi-signer). delv validates both with the
// directory's trust anchor; their denials name no other number (minimal NSEC, "black lies").
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseZone, RRType } from '@switchboard/dns-wire';
import type { ResourceRecord } from '@switchboard/dns-wire';
import { enumNameFor } from '@switchboard/e164';
import { loadOperatorKeys } from '../../src/zone/keys.js';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { reservePort, run, waitFor } from './tools.js';

interface Secondary {
  readonly label: string;
  readonly dir: string;
  readonly port: number;
  process?: ChildProcess;
  readonly log: Buffer[];
}

function knotConfig(s: Secondary, primaryPort: number, keyName: string, secret: string): string {
  return `server:
    rundir: "${s.dir}"
    listen: 127.0.0.1@${s.port}
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
    storage: "${s.dir}/db"
policy:
  - id: imported
    manual: on
    single-type-signing: on
    algorithm: ecdsap256sha256
mod-onlinesign:
  - id: signer
    policy: imported
template:
  - id: default
    storage: "${s.dir}"
    kasp-db: "${s.dir}/kasp"
zone:
  - domain: ${APEX}
    master: primary
    acl: notify_from_primary
    module: mod-onlinesign/signer
log:
  - target: stderr
    any: info
`;
}

const PUBLISHED = ['+442079460958', '+442079460959', '+442079460968'];
/** Unpublished numbers next to the published ones (same prefixes, one digit off). */
const UNPUBLISHED = ['+442079460957', '+442079460960', '+442079460948', '+14155552671'];
const LATER = '+33142685300';

describe('Knot mod-onlinesign secondaries of the unsigned transfer', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let anchor: string;
  let tsigArg: string;
  const secondaries: Secondary[] = [];

  const kdig = (port: number, ...args: string[]): ReturnType<typeof run> =>
    run('kdig', ['+timeout=2', '+retry=1', '-p', String(port), '@127.0.0.1', ...args]);
  const serialAt = async (port: number): Promise<number> => {
    const res = await kdig(port, '+short', APEX, 'SOA');
    return Number(res.stdout.trim().split(/\s+/)[2] ?? NaN);
  };
  const delv = (port: number, name: string): ReturnType<typeof run> =>
    run('delv', ['-a', anchor, `+root=${APEX}`, '-p', String(port), '@127.0.0.1', name, 'NAPTR']);
  const axfr = async (): Promise<ResourceRecord[]> => {
    const res = await kdig(t.dir.dns.port, '-y', tsigArg, APEX, 'AXFR');
    expect(res.stdout + res.stderr).not.toMatch(/BADSIG|BADKEY|REFUSED|failed/i);
    // Each message's TSIG record is the transfer's envelope, not zone content.
    const lines = res.stdout.split('\n').filter((line) => !/\sTSIG\s/.test(line));
    return parseZone(lines.join('\n'));
  };

  beforeAll(async () => {
    // Operator B's own key pair: the private half stays with B, the directory gets the public.
    const own = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    // Held until the knotds start: the directory, started first, binds port 0 itself and could
    // otherwise be given a port only found free for a secondary.
    const held = [await reservePort(), await reservePort()];
    const ports = held.map((h) => h.port);
    const keyDir = await mkdtemp(join(tmpdir(), 'sb-operator-key-'));
    const pubFile = join(keyDir, 'operator-b.pub.pem');
    await writeFile(pubFile, own.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const operatorKeys = await loadOperatorKeys([pubFile], APEX, 13);
    await rm(keyDir, { recursive: true, force: true });
    t = await startTestDirectory({
      providers: [acme],
      extra: {
        secondaries: ports.map((port) => ({ host: '127.0.0.1', port })),
        operatorKeys,
      },
    });
    for (const number of PUBLISHED) {
      const put = await t.request(acme, 'PUT', `/v1/numbers/${number}`, {
        identityKey: identity().publicBase64,
        contacts: CONTACTS,
      });
      expect(put.status).toBe(201);
    }
    anchor = join(t.dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    const key = t.dir.tsigKey;
    const secret = Buffer.from(key.secret).toString('base64');
    tsigArg = `hmac-sha256:${key.name}:${secret}`;
    const keyFiles = [t.dir.keys.path, join(t.dataDir, 'operator-b.pem')];
    await writeFile(
      keyFiles[1] as string,
      own.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      { mode: 0o600 },
    );
    for (const [i, label] of ['A (shared key)', 'B (own key)'].entries()) {
      const dir = join(t.dataDir, `secondary-${i}`);
      const s: Secondary = { label, dir, port: ports[i] as number, log: [] };
      secondaries.push(s);
      // The KASP directory must exist before keymgr or knotd use it.
      await mkdir(join(dir, 'kasp'), { recursive: true });
      await mkdir(join(dir, 'db'), { recursive: true });
      const conf = join(dir, 'server.conf');
      await writeFile(conf, knotConfig(s, t.dir.dns.port, key.name, secret));
      const imported = await run('keymgr', [
        '-c',
        conf,
        APEX,
        'import-pem',
        keyFiles[i] as string,
        'ksk=yes',
        'zsk=yes',
      ]);
      expect(imported.stderr).toBe('');
      await held[i]?.release();
      s.process = spawn('knotd', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      s.process.stderr?.on('data', (chunk: Buffer) => s.log.push(chunk));
      // Its own log says it listens: a port taken by anything else fails here, not later.
      const started = await waitFor(async () => {
        const log = Buffer.concat(s.log).toString();
        if (/critical:|cannot bind/.test(log)) throw new Error(`knotd ${label}: ${log}`);
        return /server started/.test(log);
      }, 30_000);
      expect(started).toBe(true);
    }
    for (const s of secondaries) {
      const loaded = await waitFor(
        async () => (await serialAt(s.port)) === t.dir.zone.snapshot.serial,
        30_000,
      );
      expect(loaded).toBe(true);
    }
  }, 90_000);

  afterAll(async () => {
    for (const s of secondaries) {
      const p = s.process;
      if (p?.pid !== undefined && p.exitCode === null) {
        const exited = new Promise((resolve) => p.once('exit', resolve));
        p.kill('SIGTERM');
        await exited;
      }
    }
    await t?.close();
  });

  it('transfers SOA, NS, the DNSKEY RRset and the numbers, with no RRSIG, NSEC or NSEC3', async () => {
    const records = await axfr();
    expect(records[0]?.type).toBe(RRType.SOA);
    expect(records.filter((r) => r.type === RRType.NAPTR).length).toBeGreaterThan(0);
    expect(records.filter((r) => r.type === RRType.NS).length).toBeGreaterThan(0);
    // The directory's key and operator B's.
    expect(records.filter((r) => r.type === RRType.DNSKEY)).toHaveLength(2);
    const signed: number[] = [RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.NSEC3PARAM];
    expect(records.filter((r) => signed.includes(r.type))).toEqual([]);
    for (const number of PUBLISHED) {
      expect(records.some((r) => r.name === enumNameFor(number, APEX))).toBe(true);
    }
  });

  it('each secondary signs online; delv validates its answers with the directory anchor', async () => {
    // The primary serves the same DNSKEY RRset (operator B's key included), signed by its key.
    const fromPrimary = await delv(t.dir.dns.port, enumNameFor(PUBLISHED[0] as string, APEX));
    expect(fromPrimary.stdout).toContain('; fully validated');
    const published = (await axfr()).filter((r) => r.type === RRType.DNSKEY);
    const keyText = (r: ResourceRecord): string =>
      Buffer.from((r.data as { publicKey: Uint8Array }).publicKey).toString('base64');
    for (const s of secondaries) {
      // Every server's DNSKEY RRset holds every key (RFC 8901), so answers can be mixed.
      const served = parseZone((await kdig(s.port, '+norecurse', APEX, 'DNSKEY')).stdout);
      const servedKeys = new Set(served.filter((r) => r.type === RRType.DNSKEY).map(keyText));
      expect([...servedKeys].sort()).toEqual(published.map(keyText).sort());
      const answer = await delv(s.port, enumNameFor(PUBLISHED[0] as string, APEX));
      expect({ secondary: s.label, out: answer.stdout }).toEqual({
        secondary: s.label,
        out: expect.stringContaining('; fully validated'),
      });
      expect(answer.stdout).toContain('matrix:u/alice:example.net');
      const denied = await delv(s.port, enumNameFor(UNPUBLISHED[0] as string, APEX));
      expect({ secondary: s.label, out: denied.stdout }).toEqual({
        secondary: s.label,
        out: expect.stringContaining('; negative response, fully validated'),
      });
    }
  });

  it('denials from a secondary name no other number (minimal NSEC, no chain)', async () => {
    const publishedNames = PUBLISHED.map((n) => enumNameFor(n, APEX));
    for (const s of secondaries) {
      for (const number of UNPUBLISHED) {
        const qname = enumNameFor(number, APEX);
        const res = await kdig(s.port, '+dnssec', '+norecurse', qname, 'NAPTR');
        const records = parseZone(res.stdout);
        expect(res.stdout).not.toMatch(/NSEC3/);
        const nsec = records.filter((r) => r.type === RRType.NSEC);
        expect(nsec.length).toBeGreaterThan(0);
        for (const r of nsec) {
          // The NSEC covers the query name alone: owner the name, next name right after it.
          expect(r.name).toBe(qname);
          expect((r.data as { nextDomainName: string }).nextDomainName).toBe(`\\000.${qname}`);
        }
        for (const name of publishedNames) expect(res.stdout).not.toContain(name);
      }
    }
  });

  it('a publish reaches both secondaries by NOTIFY and IXFR, validated there', async () => {
    const put = await t.request(acme, 'PUT', `/v1/numbers/${LATER}`, {
      identityKey: identity().publicBase64,
      contacts: [CONTACTS[1]],
    });
    expect(put.status).toBe(201);
    const target = t.dir.zone.snapshot.serial;
    for (const s of secondaries) {
      expect(await waitFor(async () => (await serialAt(s.port)) === target, 30_000)).toBe(true);
      const answer = await delv(s.port, enumNameFor(LATER, APEX));
      expect(answer.stdout).toContain('; fully validated');
      expect(answer.stdout).toContain('xmpp:alice@xmpp.example.net');
      const log = Buffer.concat(s.log).toString();
      expect(log).toMatch(/notify, incoming, remote 127\.0\.0\.1@\d+/i);
      expect(log).toMatch(/IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
      expect(log).not.toMatch(/fallback to AXFR/);
    }
    // The transfer still carries no signatures or denial chain.
    const records = await axfr();
    const signed: number[] = [RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.NSEC3PARAM];
    expect(records.filter((r) => signed.includes(r.type))).toEqual([]);
  });
});
