// Child process: signs a zone file for export with @switchboard/dnssec signZoneNsec3 using BIND
// key files, writes the signed zone, and reports its phase times as JSON.
//   node sign-export.js <zone> <out> <apex> <inceptionISO> <expirationISO> <timings.json> <threads> <keyBase>...
// threads 0: signZoneNsec3 on this thread; N > 0: signZoneNsec3ParallelText with N worker
// threads (the zone-file text written as it is made).
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { formatRecord, parseZone, RRType } from '@switchboard/dns-wire';
import type { ResourceRecord } from '@switchboard/dns-wire';
import type { SigningKey, ZoneSignOptions } from '@switchboard/dnssec';
import {
  importBindPrivateKey,
  signZoneNsec3,
  signZoneNsec3ParallelText,
} from '@switchboard/dnssec';

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
  const fd = openSync(out, 'w');
  const phases =
    threads > 0
      ? await signParallel(fd, records, keys, { ...options, threads })
      : signSerial(fd, records, keys, options);
  closeSync(fd);
  writeFileSync(timingsFile, JSON.stringify({ readParseMs: Math.round(t1 - t0), ...phases }));
}

type Phases = Record<
  'signMs' | 'formatWriteMs' | 'formatWhileSigningMs' | 'records' | 'rrsigs',
  number
>;

/**
 * Built, formatted and written on this thread as zone-file text, the signatures made on the
 * worker threads and filled into the text as they arrive: only the writes are timed apart.
 */
async function signParallel(
  fd: number,
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ZoneSignOptions & { threads: number },
): Promise<Phases> {
  const t1 = performance.now();
  let writeMs = 0;
  const counts = await signZoneNsec3ParallelText(records, keys, {
    ...options,
    write: (chunk) => {
      const start = performance.now();
      writeSync(fd, chunk);
      writeMs += performance.now() - start;
    },
  });
  const t2 = performance.now();
  return {
    signMs: Math.round(t2 - t1 - writeMs),
    formatWriteMs: Math.round(writeMs),
    formatWhileSigningMs: Math.round(writeMs),
    records: counts.records,
    rrsigs: counts.signatures,
  };
}

/** signZoneNsec3 on this thread, then formatted and written. */
function signSerial(
  fd: number,
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ZoneSignOptions,
): Phases {
  const t1 = performance.now();
  const signed = signZoneNsec3(records, keys, options);
  const t2 = performance.now();
  writeRecords(fd, Buffer.allocUnsafe(1 << 20), signed, 0, signed.length);
  const t3 = performance.now();
  let rrsigs = 0;
  for (const r of signed) if (r.type === RRType.RRSIG) rrsigs++;
  return {
    signMs: Math.round(t2 - t1),
    formatWriteMs: Math.round(t3 - t2),
    formatWhileSigningMs: 0,
    records: signed.length,
    rrsigs,
  };
}

main().catch((err: unknown) => {
  console.error(`sign-export: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
