// SDK lookup benchmark (issue 3, priority 3): client-sdk `lookup()` (DNS + its own DNSSEC
// validation up to the trust list's anchor) against `delv` (BIND's validating lookup tool,
// trust anchor from the directory's trust-anchor.conf) on the same names, from our directory.
// See bench/README.md.
//   npm run bench:lookup -w bench -- [--count 1000] [--lookups 200] [--keep]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createDevelopmentTrustList,
  generateEd25519KeyPair,
  publicKeyRecord,
} from '@switchboard/charter';
import type { DirectoryEntry, ProviderEntry } from '@switchboard/charter';
import { LookupError, lookup } from '@switchboard/client-sdk';
import { NodeDnsTransport } from '@switchboard/client-sdk/node';
import { directoryPeer } from '../peers/directory.js';
import { waitForZone } from '../probe.js';
import type { RunningPeer } from '../process.js';
import { canPin, freePort, pinned, sleep } from '../process.js';
import { cell, markdownTable, table, updateResultsReadme, writeResultJson } from '../report.js';
import type { LatencySummary } from '../stats.js';
import { ratio, summarise } from '../stats.js';
import { benchSpace, enumName, generateBenchZone, importLines, writeLines } from '../zone-data.js';

interface Args {
  count: number;
  lookups: number;
  keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { count: 1000, lookups: 200, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): number => Number(argv[++i]);
    if (a === '--count') args.count = v();
    else if (a === '--lookups') args.lookups = v();
    else if (a === '--keep') args.keep = true;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

function hex(text: string): string {
  return text.replace(/\s+/g, '').toUpperCase();
}

/** `<apex> <ttl> IN DS <tag> <alg> <digestType> <hex>` from the directory's ds.txt. */
function parseDs(line: string): {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: string;
} {
  const m = /\sDS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-Fa-f\s]+)$/.exec(line.trim());
  if (!m) throw new Error('ds.txt has no DS record');
  return {
    keyTag: Number(m[1]),
    algorithm: Number(m[2]),
    digestType: Number(m[3]),
    digest: hex(m[4] ?? ''),
  };
}

interface Side {
  existing: LatencySummary;
  missing: LatencySummary;
  failures: number;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
  const work = mkdtempSync(join(tmpdir(), 'sb-bench-lookup-'));
  const started = new Date();
  const load0 = loadavg();
  const zone = generateBenchZone({ count: args.count });
  const port = await freePort();
  const dir = join(work, 'switchboard');
  mkdirSync(dir);
  let server: RunningPeer | undefined;
  const importFile = join(work, 'entries.jsonl');
  writeLines(importFile, importLines(benchSpace({ count: args.count })));
  try {
    server = await directoryPeer(importFile, args.count).start({
      workDir: dir,
      apex: zone.apex,
      zoneFile: '',
      port,
      ...(pin ? { cpu: 0 } : {}),
    });
    await waitForZone(port, zone.apex, 300_000);
    const dsFile = join(dir, 'directory', 'ds.txt');
    for (let i = 0; i < 50 && !existsSync(dsFile); i++) await sleep(100);
    const ds = parseDs(readFileSync(dsFile, 'utf8').split('\n')[0] ?? '');
    const now = new Date();
    const directory: DirectoryEntry = {
      id: 'bench-directory',
      operator: 'bench',
      apex: zone.apex,
      trustAnchors: [{ type: 'DS', ...ds }],
      nameservers: [`127.0.0.1:${port}`],
      publishEndpoint: 'http://127.0.0.1:1/',
      status: 'active',
    } as DirectoryEntry;
    const providers: ProviderEntry[] = [...new Set(zone.entries.map((e) => e.provider))].map(
      (id) =>
        ({
          id,
          name: id,
          apiBaseUrl: `https://${id}.invalid/`,
          publishingKeys: [publicKeyRecord(generateEd25519KeyPair())],
          networks: ['sip', 'xmpp', 'matrix', 'mailbox'],
          accreditation: {
            notBefore: new Date(now.getTime() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            notAfter: new Date(now.getTime() + 365 * 86_400_000)
              .toISOString()
              .replace(/\.\d{3}Z$/, 'Z'),
          },
          status: 'active',
        }) as ProviderEntry,
    );
    const trustList = createDevelopmentTrustList({
      now,
      directories: [directory],
      providers,
    }).verified;
    const dns = new NodeDnsTransport({ timeoutMs: 3000 });
    const existing = zone.entries.slice(0, args.lookups).map((e) => e.number);
    const missing = zone.missing.slice(0, args.lookups);

    // SDK: one lookup() per number, in process, nothing cached between lookups by the SDK.
    const sdk = async (
      numbers: readonly string[],
      expectFound: boolean,
    ): Promise<{ s: number[]; failures: number }> => {
      const s: number[] = [];
      let failures = 0;
      for (const n of numbers) {
        const t0 = performance.now();
        try {
          await lookup(n, { trustList, dns });
          if (!expectFound) failures++;
        } catch (err) {
          if (!(err instanceof LookupError) || expectFound) failures++;
        }
        s.push((performance.now() - t0) / 1000);
      }
      return { s, failures };
    };
    console.log(
      `SDK lookups: ${existing.length} published + ${missing.length} unpublished numbers...`,
    );
    await sdk(existing.slice(0, 10), true); // warm-up (JIT)
    const se = await sdk(existing, true);
    const sm = await sdk(missing, false);

    // delv: one process per name, validating from the directory's trust anchor.
    const anchor = join(dir, 'directory', 'trust-anchor.conf');
    const delv = (
      numbers: readonly string[],
      expectFound: boolean,
    ): { s: number[]; failures: number } => {
      const s: number[] = [];
      let failures = 0;
      for (const n of numbers) {
        const [cmd, argv] = pinned(pin ? 1 : undefined, 'delv', [
          '@127.0.0.1',
          '-p',
          String(port),
          '-a',
          anchor,
          `+root=${zone.apex}`,
          enumName(n, zone.apex),
          'NAPTR',
        ]);
        const t0 = performance.now();
        const r = spawnSync(cmd, argv, { encoding: 'utf8' });
        s.push((performance.now() - t0) / 1000);
        const out = `${r.stdout}${r.stderr}`;
        const validated = out.includes('fully validated');
        const answered = /\bNAPTR\b.*E2U/.test(out);
        const ok =
          validated && (expectFound ? answered : out.includes('negative response') && !answered);
        if (!ok) failures++;
      }
      return { s, failures };
    };
    console.log('delv lookups on the same names...');
    const de = delv(existing, true);
    const dm = delv(missing, false);

    const sides: Record<'sdk' | 'delv', Side> = {
      sdk: {
        existing: summarise(se.s),
        missing: summarise(sm.s),
        failures: se.failures + sm.failures,
      },
      delv: {
        existing: summarise(de.s),
        missing: summarise(dm.s),
        failures: de.failures + dm.failures,
      },
    };
    const header = [
      'client',
      'published p50 ms',
      'p99 ms',
      'unpublished p50 ms',
      'p99 ms',
      'failures',
      'p50 x delv (published)',
    ];
    const rows = (['sdk', 'delv'] as const).map((k) => [
      k === 'sdk' ? 'client-sdk lookup()' : 'delv (process per name)',
      cell(sides[k].existing.p50Ms, 2),
      cell(sides[k].existing.p99Ms, 2),
      cell(sides[k].missing.p50Ms, 2),
      cell(sides[k].missing.p99Ms, 2),
      cell(sides[k].failures),
      cell(ratio(sides[k].existing.p50Ms, sides.delv.existing.p50Ms), 2),
    ]);
    const load1 = loadavg();
    console.log('\nLookup + DNSSEC validation from our directory, sequential, one name at a time');
    console.log(table([header, ...rows]));
    const resultsDir = resolve(import.meta.dirname, '../../../results');
    const file = writeResultJson(
      resultsDir,
      'lookup',
      {
        benchmark: 'lookup',
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        options: args,
        environment: {
          node: process.version,
          pinned: pin,
          loadavgAtStart: load0,
          loadavgAtEnd: load1,
          delv:
            spawnSync('delv', ['-v'], { encoding: 'utf8' }).stdout.trim() ||
            spawnSync('delv', ['-v'], { encoding: 'utf8' }).stderr.trim(),
        },
        sides,
      },
      started,
    );
    updateResultsReadme(
      resultsDir,
      'lookup',
      [
        `## SDK lookup vs delv: ${started.toISOString()}`,
        '',
        `${args.lookups} published and ${args.lookups} unpublished numbers from our directory (${args.count} numbers, server on CPU 0), looked up one at a time: client-sdk \`lookup()\` in process (NAPTR + TXT + DNSKEY, its own validation to the trust list's DS) vs \`delv\` (one process per name, so its start-up is included). Load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start, ${load1.map((l) => l.toFixed(1)).join(' ')} at end.`,
        '',
        markdownTable([header, ...rows]),
        '',
        `Full data: \`${file.slice(resultsDir.length + 1)}\`.`,
      ].join('\n'),
    );
    console.log(`\nresults: ${file}`);
  } finally {
    await server?.stop();
    if (args.keep) console.log(`work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`lookup benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
