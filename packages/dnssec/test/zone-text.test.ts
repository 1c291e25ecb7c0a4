import { RRType, formatRecord, isRecordType, parseZone } from '@switchboard/dns-wire';
import type { ResourceRecord } from '@switchboard/dns-wire';
import {
  generateSigningKey,
  signZoneNsec3,
  signZoneNsec3ParallelText,
  verifyRrsig,
} from '../src/index.js';
import type { SigningKey } from '../src/index.js';
import { APEX, EXPIRATION, INCEPTION, NOW } from './test-zone.js';

// Escaped octets, upper case, a wildcard, a delegation with glue, multi-record RRsets, TXT and
// NAPTR with characters that need escapes, and a few thousand numbers (the text spans several
// chunks, and the signer waits for the workers now and then).
function zoneText(numbers: number): string {
  const lines = [
    `$ORIGIN ${APEX}`,
    '$TTL 300',
    '@ SOA ns1 hostmaster 1 7200 3600 1209600 60',
    '  NS ns1',
    'ns1 A 192.0.2.1',
    'a\\000 A 192.0.2.3',
    'B.a TXT "quote \\" and \\\\ and \\200 and tab\\009"',
    '*.w TXT "wild" "two"',
    'sub NS ns.sub',
    'ns.sub A 192.0.2.9',
    'mx MX 10 Mail.Example.',
    'u NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:caf\\195\\169@example.net!" .',
  ];
  for (let i = 0; i < numbers; i++) {
    const name = String(1000000 + i * 7919)
      .split('')
      .reverse()
      .join('.');
    lines.push(`${name} NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:u${i}@sip.example.net!" .`);
    lines.push(`${name} NAPTR 100 20 "u" "E2U+xmpp" "!^.*$!xmpp:u${i}@xmpp.example.net!" .`);
    lines.push(`${name} ${i % 2 ? 600 : 300} TXT "v=sbkey1; k=K${i}; p=example.net"`);
  }
  return `${lines.join('\n')}\n`;
}

async function signedText(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
): Promise<{ text: string; chunks: number; counts: { records: number; signatures: number } }> {
  const parts: Buffer[] = [];
  const counts = await signZoneNsec3ParallelText(records, keys, {
    origin: APEX,
    inception: INCEPTION,
    expiration: EXPIRATION,
    threads: 2,
    batchSize: 7,
    write: (chunk) => parts.push(Buffer.from(chunk)),
  });
  return { text: Buffer.concat(parts).toString('utf8'), chunks: parts.length, counts };
}

describe('signZoneNsec3ParallelText', () => {
  it('writes exactly the lines of formatRecord over signZoneNsec3 (Ed25519: same signatures)', async () => {
    const ksk = generateSigningKey(15);
    const zsk = generateSigningKey(15, { flags: 256 });
    const records = parseZone(zoneText(6000));
    const sync = signZoneNsec3(records, [ksk, zsk], {
      origin: APEX,
      inception: INCEPTION,
      expiration: EXPIRATION,
    });
    const { text, chunks, counts } = await signedText(records, [ksk, zsk]);
    expect(chunks).toBeGreaterThan(1);
    const expected = sync.map((r) => `${formatRecord(r)}\n`).join('');
    expect(text.length).toBe(expected.length);
    expect(text === expected).toBe(true);
    expect(counts).toEqual({
      records: sync.length,
      signatures: sync.filter((r) => r.type === RRType.RRSIG).length,
    });
  });

  it('ECDSA: every signature in the text verifies, the rest as formatRecord writes it', async () => {
    const ksk = generateSigningKey(13);
    const zsk = generateSigningKey(13, { flags: 256 });
    const records = parseZone(zoneText(300));
    const sync = signZoneNsec3(records, [ksk, zsk], {
      origin: APEX,
      inception: INCEPTION,
      expiration: EXPIRATION,
    });
    const { text } = await signedText(records, [ksk, zsk]);
    const noSig = (line: string): string =>
      line.includes('\tRRSIG\t') ? line.slice(0, line.lastIndexOf(' ')) : line;
    expect(text.trimEnd().split('\n').map(noSig)).toEqual(sync.map(formatRecord).map(noSig));
    const parsed = parseZone(text);
    let checked = 0;
    for (const sig of parsed) {
      if (!isRecordType(sig, RRType.RRSIG)) continue;
      const rrset = parsed.filter((r) => r.type === sig.data.typeCovered && r.name === sig.name);
      const key = sig.data.keyTag === ksk.keyTag ? ksk : zsk;
      expect(verifyRrsig(rrset, sig, key.dnskey, NOW)).toEqual({ ok: true });
      checked++;
    }
    expect(checked).toBe(sync.filter((r) => r.type === RRType.RRSIG).length);
  });

  it('fails when writing fails, and refuses keys whose signatures are not 64 octets', async () => {
    const zsk = generateSigningKey(13);
    const records = parseZone(zoneText(3000));
    await expect(
      signZoneNsec3ParallelText(records, [zsk], {
        origin: APEX,
        inception: INCEPTION,
        expiration: EXPIRATION,
        threads: 1,
        write: () => {
          throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    const rsa = { ...zsk, algorithm: 8 } as unknown as SigningKey;
    await expect(
      signZoneNsec3ParallelText(records, [rsa], {
        origin: APEX,
        inception: INCEPTION,
        expiration: EXPIRATION,
        write: () => undefined,
      }),
    ).rejects.toThrow('ECDSA P-256 or Ed25519');
  });
});
