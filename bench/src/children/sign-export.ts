// Child process: signs a zone file for export with @switchboard/dnssec signZoneNsec3 using BIND
// key files, writes the signed zone, and reports its phase times as JSON.
//   node sign-export.js <zone> <out> <apex> <inceptionISO> <expirationISO> <timings.json> <threads> <keyBase>...
// threads 0: signZoneNsec3 on this thread; N > 0: signZoneNsec3Parallel with N worker threads.
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { formatRecord, parseZone, RRType } from '@switchboard/dns-wire';
import type { ResourceRecord } from '@switchboard/dns-wire';
import { importBindPrivateKey, signZoneNsec3, signZoneNsec3Parallel } from '@switchboard/dnssec';

/** DNSKEY flags from a BIND `K*.key` file (first non-comment line). */
function flagsOf(keyFileText: string): number {
  const line = keyFileText.split('\n').find((l) => l.trim() !== '' && !l.startsWith(';'));
  const m = line ? /\bDNSKEY\s+(\d+)\s/.exec(line) : null;
  if (!m?.[1]) throw new Error('key file has no DNSKEY line');
  return Number(m[1]);
}

/**
 * Formats records[from..end) line by line into `buffer`, written out whenever full: no string
 * per chunk or zone to join, and far less garbage than joining lines.
 */
function writeRecords(
  fd: number,
  buffer: Buffer,
  records: readonly ResourceRecord[],
  from: number,
  end: number,
): void {
  let used = 0;
  for (let i = from; i < end; i++) {
    const line = formatRecord(records[i] as ResourceRecord);
    // UTF-8 takes at most 3 octets per UTF-16 unit (lines are ASCII: formatRecord escapes).
    if (used + 3 * line.length + 1 > buffer.length) {
      writeSync(fd, buffer, 0, used);
      used = 0;
    }
    if (3 * line.length + 1 > buffer.length) writeSync(fd, `${line}\n`);
    else {
      used += buffer.write(line, used);
      buffer[used++] = 0x0a;
    }
  }
  writeSync(fd, buffer, 0, used);
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
  // Formats and writes records[written..end); with threads, as signatures arrive (while the
  // workers still sign).
  const fd = openSync(out, 'w');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let written = 0;
  let formatMs = 0;
  const writeUpTo = (signed: readonly ResourceRecord[], end: number): void => {
    const start = performance.now();
    if (end > written) writeRecords(fd, buffer, signed, written, end);
    written = Math.max(written, end);
    formatMs += performance.now() - start;
  };
  const signed =
    threads > 0
      ? await signZoneNsec3Parallel(records, keys, { ...options, threads, onReady: writeUpTo })
      : signZoneNsec3(records, keys, options);
  const t2 = performance.now();
  const formatDuringSigning = formatMs;
  writeUpTo(signed, signed.length);
  closeSync(fd);
  const t3 = performance.now();
  if (written !== signed.length) throw new Error('not every record was written');
  let rrsigs = 0;
  for (const r of signed) if (r.type === RRType.RRSIG) rrsigs++;
  writeFileSync(
    timingsFile,
    JSON.stringify({
      readParseMs: Math.round(t1 - t0),
      // Wall time until the last signature, less the formatting done meanwhile on this thread.
      signMs: Math.round(t2 - t1 - formatDuringSigning),
      // All formatting and writing, including what overlapped the workers' signing.
      formatWriteMs: Math.round(formatDuringSigning + (t3 - t2)),
      formatWhileSigningMs: Math.round(formatDuringSigning),
      records: signed.length,
      rrsigs,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(`sign-export: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
