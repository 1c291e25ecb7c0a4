// Child process: signs a zone file for export with @switchboard/dnssec signZoneNsec3 using BIND
// key files, writes the signed zone, and reports its phase times as JSON.
//   node sign-export.js <zone> <out> <apex> <inceptionISO> <expirationISO> <timings.json> <threads> <keyBase>...
// threads 0: signZoneNsec3 on this thread; N > 0: signZoneNsec3Parallel with N worker threads.
import { readFileSync, writeFileSync } from 'node:fs';
import { formatRecord, parseZone, RRType } from '@switchboard/dns-wire';
import { importBindPrivateKey, signZoneNsec3, signZoneNsec3Parallel } from '@switchboard/dnssec';

/** DNSKEY flags from a BIND `K*.key` file (first non-comment line). */
function flagsOf(keyFileText: string): number {
  const line = keyFileText.split('\n').find((l) => l.trim() !== '' && !l.startsWith(';'));
  const m = line ? /\bDNSKEY\s+(\d+)\s/.exec(line) : null;
  if (!m?.[1]) throw new Error('key file has no DNSKEY line');
  return Number(m[1]);
}

async function main(): Promise<void> {
  const [zoneFile, out, apex, inception, expiration, timingsFile, threadsText, ...keyBases] =
    process.argv.slice(2);
  const threads = Number(threadsText);
  if (
    !Number.isInteger(threads) ||
    !zoneFile ||
    !out ||
    !apex ||
    !inception ||
    !expiration ||
    !timingsFile ||
    keyBases.length === 0
  ) {
    console.error(
      'usage: sign-export <zone> <out> <apex> <inception> <expiration> <timings.json> <threads> <keyBase>...',
    );
    process.exit(2);
  }
  const keys = keyBases.map((base) =>
    importBindPrivateKey(readFileSync(`${base}.private`, 'utf8'), {
      flags: flagsOf(readFileSync(`${base}.key`, 'utf8')),
    }),
  );
  const t0 = performance.now();
  const records = parseZone(readFileSync(zoneFile, 'utf8'), { origin: apex });
  const t1 = performance.now();
  const options = {
    origin: apex,
    inception: new Date(inception),
    expiration: new Date(expiration),
  };
  const signed =
    threads > 0
      ? await signZoneNsec3Parallel(records, keys, { ...options, threads })
      : signZoneNsec3(records, keys, options);
  const t2 = performance.now();
  const lines: string[] = new Array<string>(signed.length);
  for (let i = 0; i < signed.length; i++)
    lines[i] = formatRecord(signed[i] as (typeof signed)[number]);
  writeFileSync(out, `${lines.join('\n')}\n`);
  const t3 = performance.now();
  writeFileSync(
    timingsFile,
    JSON.stringify({
      readParseMs: Math.round(t1 - t0),
      signMs: Math.round(t2 - t1),
      formatWriteMs: Math.round(t3 - t2),
      records: signed.length,
      rrsigs: signed.filter((r) => r.type === RRType.RRSIG).length,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(`sign-export: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
