#!/usr/bin/env node
// switchboard-directory: operator commands that work on the data directory without starting
// the servers. `export` prints the unsigned zone (to load into a secondary that signs online),
// or with `--presigned-nsec3` the zone pre-signed with NSEC3 (walkable; for ldns-verify-zone);
// `ds` prints the DS records and the delv/BIND trust anchor.
import { once } from 'node:events';
import { resolve } from 'node:path';
import { openDatabase } from '@switchboard/db';
import { directoryConfigFromEnv } from './config.js';
import { loadOperatorKeys, loadOrCreateZoneKey } from './zone/keys.js';
import { publicKeyMaterial } from './directory.js';
import { OnlineSigner } from './zone/signer.js';
import { DirectoryStore } from './state/store.js';
import { bulkImport, exportEntries } from './state/bulk-import.js';
import { eachUnsignedRecord, unsignedRecords } from './transfer/transfer.js';
import { defaultZoneSettings } from './zone/zone.js';
import type { ZoneSnapshot } from './zone/zone.js';
import { ZoneState } from './state/zone-state.js';
import { formatRecord, RRType } from '@switchboard/dns-wire';
import { signZoneNsec3ParallelText } from '@switchboard/dnssec';
import type { SigningKey } from '@switchboard/dnssec';

const USAGE = `usage: switchboard-directory <export [--presigned-nsec3]|ds|import|dump> [--data DIR]
  export   print the zone as a zone file: unsigned (SOA, NS, DNSKEY RRset, NAPTR/TXT), for
           secondaries that sign online; with --presigned-nsec3, pre-signed with NSEC3
           (walkable: the NSEC3 hashes of phone numbers can be brute-forced)
  ds       print the DS records (zone key and operators' KSKs) and the trust anchor
  import FILE [--restart] [--provider ID]... [--refused REPORT]
           load entries from JSON Lines (one {"number","provider","identityKey","contacts"} a
           line), checked as a publish is; resumes where an interrupted import of FILE ended
           unless --restart; refused lines are reported by number and reason in REPORT
           (default FILE.refused.jsonl); --provider accepts only lines of those providers
  dump     print every entry as JSON Lines (the import format)
Configuration comes from the same DIRECTORY_* variables as the service; --data defaults to
SWITCHBOARD_DATA_DIR or ./data.`;

async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0];
  const dataFlag = argv.indexOf('--data');
  const dataDir = resolve(
    dataFlag >= 0 ? (argv[dataFlag + 1] ?? '') : (process.env['SWITCHBOARD_DATA_DIR'] ?? 'data'),
  );
  if (!['export', 'ds', 'import', 'dump'].includes(command ?? '')) {
    console.error(USAGE);
    return 2;
  }
  const config = directoryConfigFromEnv(dataDir, process.env);
  if (command === 'import' || command === 'dump') {
    return withStore(config.databaseUrl, (store) =>
      command === 'import' ? importCommand(store, argv.slice(1)) : dumpCommand(store),
    );
  }
  const keys = await loadOrCreateZoneKey(
    resolve(config.dataDir, 'keys'),
    config.apex,
    config.algorithm,
  );
  const operatorKeys = await loadOperatorKeys(
    config.operatorKeyFiles,
    config.apex,
    config.algorithm,
  );
  const settings = { ...defaultZoneSettings(config.apex), nameServers: config.nameServers };
  if (command === 'ds') {
    const dnskeys = [keys.key.dnskey, ...operatorKeys];
    const { dsText, trustAnchor } = publicKeyMaterial(config.apex, dnskeys, settings.dnskeyTtl);
    process.stdout.write(`${dsText}${trustAnchor}\n`);
    return 0;
  }
  const presigned = argv.includes('--presigned-nsec3');
  const database = await openDatabase<unknown>({ url: config.databaseUrl });
  try {
    const store = await DirectoryStore.open(database);
    const signer = new OnlineSigner(keys.key, config.apex);
    const zone = await ZoneState.load(store, settings, keys.key, signer, { operatorKeys });
    if (presigned) await writeSignedZone(zone.snapshot, keys.key, signer, Date.now() / 1000);
    else writeUnsignedZone(zone.snapshot);
    return 0;
  } finally {
    await database.close();
  }
}

async function withStore(
  url: string,
  run: (store: DirectoryStore) => Promise<number>,
): Promise<number> {
  const database = await openDatabase<unknown>({ url });
  try {
    return await run(await DirectoryStore.open(database));
  } finally {
    await database.close();
  }
}

function flagValues(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((a, i) =>
    a === flag && argv[i + 1] !== undefined ? [argv[i + 1] as string] : [],
  );
}

async function importCommand(store: DirectoryStore, argv: readonly string[]): Promise<number> {
  const file = argv[0];
  if (file === undefined || file.startsWith('--')) {
    console.error(USAGE);
    return 2;
  }
  const providers = new Set(flagValues(argv, '--provider'));
  const started = Date.now();
  const report = await bulkImport(store, {
    file,
    refusedFile: flagValues(argv, '--refused')[0] ?? `${file}.refused.jsonl`,
    restart: argv.includes('--restart'),
    ...(providers.size > 0 ? { knownProvider: (id: string) => providers.has(id) } : {}),
    now: Math.floor(Date.now() / 1000),
    onBatch: (p) => {
      if (process.stderr.isTTY) {
        process.stderr.write(`\rline ${p.line}: ${p.imported} imported, ${p.refused} refused`);
      }
    },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const resumed = report.startedAtLine > 1 ? ` (resumed at line ${report.startedAtLine})` : '';
  process.stderr.write(
    `\nimported ${report.imported}, refused ${report.refused} of ${report.line} lines in ${seconds} s${resumed}\n`,
  );
  return report.refused > 0 ? 3 : 0;
}

async function dumpCommand(store: DirectoryStore): Promise<number> {
  let chunk: string[] = [];
  const write = async (): Promise<void> => {
    if (!process.stdout.write(`${chunk.join('\n')}\n`)) await once(process.stdout, 'drain');
    chunk = [];
  };
  for await (const line of exportEntries(store)) {
    chunk.push(line);
    if (chunk.length === 4096) await write();
  }
  if (chunk.length > 0) await write();
  return 0;
}

/** Prints the snapshot unsigned (DNSKEY RRset included), SOA first, in chunks. */
function writeUnsignedZone(snapshot: ZoneSnapshot): void {
  const apex = snapshot.settings.apex;
  const header = `; ${apex} serial ${snapshot.serial}, unsigned, for secondaries that sign online`;
  process.stdout.write(`${header}\n$ORIGIN ${apex}\n`);
  let chunk: string[] = [];
  for (const rr of eachUnsignedRecord(snapshot, true)) {
    chunk.push(formatRecord(rr));
    if (chunk.length === 4096) {
      process.stdout.write(`${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  if (chunk.length > 0) process.stdout.write(`${chunk.join('\n')}\n`);
}

/**
 * Prints the snapshot signed with NSEC3 (RFC 9276: no salt, no extra iterations), SOA first,
 * as `zoneFileText(signZoneForExport(...))` would, but with the signatures made on worker
 * threads and the text written in chunks as they arrive (not one string for the whole zone).
 */
async function writeSignedZone(
  snapshot: ZoneSnapshot,
  key: SigningKey,
  signer: OnlineSigner,
  now: number,
): Promise<void> {
  const apex = snapshot.settings.apex;
  const { inception, expiration } = signer.validityWindow(now);
  const records = unsignedRecords(snapshot);
  const soa = records.filter((r) => r.type === RRType.SOA);
  const lines = [
    `; ${apex} serial ${snapshot.serial}, pre-signed with NSEC3 for export`,
    `$ORIGIN ${apex}`,
    ...soa.map(formatRecord),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // Each chunk is copied: it is only valid during the call, and a write may be queued.
  await signZoneNsec3ParallelText(records, [key], {
    origin: apex,
    inception,
    expiration,
    dnskeyTtl: snapshot.settings.dnskeyTtl,
    omit: (rr) => rr.type === RRType.SOA,
    write: (chunk) => {
      process.stdout.write(chunk.slice());
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`switchboard-directory: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
