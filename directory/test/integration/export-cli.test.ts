// `switchboard-directory export`: unsigned by default; with --presigned-nsec3 (the walkable
// opt-in) the zone signed with NSEC3 on worker threads and written in chunks as signatures
// arrive, which ldns-verify-zone must accept.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDatabase } from '@switchboard/db';
import { parseZone, RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { DirectoryStore } from '../../src/state/store.js';
import { run } from './tools.js';

const cli = resolve(import.meta.dirname, '../../src/cli.js');

function exportZone(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  flags: readonly string[] = ['--presigned-nsec3'],
): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(
      process.execPath,
      [cli, 'export', ...flags, '--data', dataDir],
      { env, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stderr}`)) : ok(stdout)),
    );
  });
}

describe('switchboard-directory export', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-export-'));
    const { DATABASE_URL: _ignored, ...rest } = process.env;
    env = { ...rest, DIRECTORY_DATABASE_URL: `sqlite:${join(dir, 'directory.db')}` };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the published numbers signed with NSEC3, SOA first, accepted by ldns-verify-zone', async () => {
    await exportZone(dir, env); // creates the key and the database
    const db = await openDatabase<unknown>({ url: env['DIRECTORY_DATABASE_URL'] as string });
    try {
      const store = await DirectoryStore.open(db);
      for (let i = 0; i < 40; i++)
        await store.put(
          {
            number: `+1201555${String(i).padStart(4, '0')}` as E164Number,
            provider: 'acme',
            identityKey: Buffer.alloc(33, i + 1).toString('base64'),
            contacts: [
              { service: 'sip', uri: `sip:u${i}@sip.example.net` },
              { service: 'xmpp', uri: `xmpp:u${i}@xmpp.example.net` },
            ],
          },
          undefined,
          1_700_000_000,
        );
    } finally {
      await db.close();
    }
    const text = await exportZone(dir, env);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^; e164\.switchboard\.test\. serial \d+, pre-signed with NSEC3/);
    expect(lines[1]).toBe('$ORIGIN e164.switchboard.test.');
    const records = parseZone(text);
    expect(records[0]?.type).toBe(RRType.SOA);
    expect(records.filter((r) => r.type === RRType.SOA)).toHaveLength(1);
    expect(records.filter((r) => r.type === RRType.NAPTR)).toHaveLength(80);
    const nsec3param = records.find((r) => r.type === RRType.NSEC3PARAM);
    expect(nsec3param?.data).toMatchObject({ iterations: 0, salt: new Uint8Array(0) });
    // Every RRset but the records' own RRSIGs is signed.
    const sets = new Set(
      records.filter((r) => r.type !== RRType.RRSIG).map((r) => `${r.name} ${r.type}`),
    );
    const covered = new Set(
      records.flatMap((r) =>
        r.type === RRType.RRSIG
          ? [`${r.name} ${(r.data as { typeCovered: number }).typeCovered}`]
          : [],
      ),
    );
    expect(covered).toEqual(sets);
    const file = join(dir, 'export.zone');
    await writeFile(file, text);
    const res = await run('ldns-verify-zone', [file]);
    expect(res.stdout + res.stderr).toContain('Zone is verified and complete');
    expect(res.code).toBe(0);
  });

  it('prints the zone unsigned by default: SOA, NS, DNSKEY, the numbers, no RRSIG/NSEC/NSEC3', async () => {
    const text = await exportZone(dir, env, []);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^; e164\.switchboard\.test\. serial \d+, unsigned/);
    const records = parseZone(text);
    expect(records[0]?.type).toBe(RRType.SOA);
    expect(records.filter((r) => r.type === RRType.DNSKEY)).toHaveLength(1);
    expect(records.filter((r) => r.type === RRType.NS).length).toBeGreaterThan(0);
    expect(records.filter((r) => r.type === RRType.NAPTR)).toHaveLength(80);
    const denial: number[] = [RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.NSEC3PARAM];
    expect(records.filter((r) => denial.includes(r.type))).toEqual([]);
  });
});
