// The benchmark zone: the same deterministic set of numbers and records for every server, so
// that every peer answers exactly the same questions from exactly the same data.

/** One published number, in the shape docs/directory-records.md describes. */
export interface BenchEntry {
  /** E.164, e.g. `+12025550123`. */
  readonly number: string;
  /** libsignal identity key (0x05 + 32 bytes), standard base64. */
  readonly identityKey: string;
  readonly provider: string;
  /** Contact URIs in preference order (2 or 3: sip, xmpp, optionally matrix). */
  readonly contacts: readonly {
    readonly service: 'sip' | 'xmpp' | 'matrix';
    readonly uri: string;
  }[];
}

export interface BenchZone {
  readonly apex: string;
  readonly entries: readonly BenchEntry[];
  /** Numbers in the same space that are not published (for the "missing" half). */
  readonly missing: readonly string[];
}

export interface BenchZoneOptions {
  readonly count: number;
  readonly missingCount?: number;
  readonly apex?: string;
  readonly seed?: number;
}

export const BENCH_APEX = 'e164.switchboard.test.';
/**
 * Numbers are `+1 <NPA> 555 XXXX`: the fictional 555 exchange under 100 real NANP area codes
 * (10^6 candidates, so 100,000 published numbers fill 10% of the space). Plain `+1555XXXXXXX`
 * is refused by libphonenumber (555 is not an area code), and the directory validates what it
 * publishes, so every server gets numbers the directory accepts.
 */
const AREA_CODES = [
  201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 220,
  223, 224, 225, 226, 227, 228, 229, 231, 234, 235, 236, 239, 240, 248, 249, 250, 251, 252, 253,
  254, 256, 257, 260, 262, 263, 267, 269, 270, 272, 273, 274, 276, 279, 281, 283, 289, 301, 302,
  303, 304, 305, 306, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323,
  324, 325, 326, 327, 329, 330, 331, 332, 334, 336, 337, 339, 340, 341, 343, 346, 347, 350, 351,
  352, 353, 354, 360, 361,
] as const;
const SUFFIX_SPACE = AREA_CODES.length * 10_000;
const PROVIDERS = ['acme-telecom', 'bench-provider', 'example.net'] as const;

/** mulberry32: a tiny seeded PRNG, so the zone is identical on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function numberFor(index: number): string {
  const area = AREA_CODES[Math.floor(index / 10_000)] as number;
  return `+1${area}555${String(index % 10_000).padStart(4, '0')}`;
}

function randomBytes(random: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Builds `count` distinct numbers with records, and `missingCount` unpublished numbers. */
export function generateBenchZone(options: BenchZoneOptions): BenchZone {
  const { count } = options;
  const missingCount = options.missingCount ?? count;
  if (!Number.isInteger(count) || count < 1 || count + missingCount > SUFFIX_SPACE / 2) {
    throw new RangeError(`count must be 1..${SUFFIX_SPACE / 2 - missingCount}`);
  }
  const random = seededRandom(options.seed ?? 20261122);
  const used = new Set<number>();
  const pick = (): number => {
    for (;;) {
      const s = Math.floor(random() * SUFFIX_SPACE);
      if (!used.has(s)) {
        used.add(s);
        return s;
      }
    }
  };
  const entries: BenchEntry[] = [];
  for (let i = 0; i < count; i++) {
    const suffix = pick();
    const user = `u${suffix}`;
    const key = Buffer.concat([Buffer.from([0x05]), randomBytes(random, 32)]).toString('base64');
    const contacts: { service: 'sip' | 'xmpp' | 'matrix'; uri: string }[] = [
      { service: 'sip', uri: `sip:${user}@sip.example.net` },
      { service: 'xmpp', uri: `xmpp:${user}@xmpp.example.net` },
    ];
    if (random() < 0.5) contacts.push({ service: 'matrix', uri: `matrix:u/${user}:example.net` });
    entries.push({
      number: numberFor(suffix),
      identityKey: key,
      provider: PROVIDERS[i % PROVIDERS.length] ?? 'bench-provider',
      contacts,
    });
  }
  const missing: string[] = [];
  for (let i = 0; i < missingCount; i++) missing.push(numberFor(pick()));
  return { apex: options.apex ?? BENCH_APEX, entries, missing };
}

/** RFC 6116 section 2.4: digits reversed, one per label, under the apex. */
export function enumName(number: string, apex: string): string {
  const digits = number.replace(/^\+/, '');
  return `${digits.split('').reverse().join('.')}.${apex}`;
}

/** The zone file (RFC 1035 presentation format) every peer loads, records as in docs/directory-records.md. */
export function zoneFileText(zone: BenchZone, serial = 1): string {
  const lines: string[] = [
    `$ORIGIN ${zone.apex}`,
    '$TTL 300',
    `@ 300 IN SOA ns1.switchboard.test. hostmaster.switchboard.test. ${serial} 300 60 1209600 300`,
    '@ 300 IN NS ns1.switchboard.test.',
  ];
  const services = { sip: 'E2U+sip', xmpp: 'E2U+xmpp', matrix: 'E2U+matrix' } as const;
  for (const e of zone.entries) {
    const owner = enumName(e.number, zone.apex);
    e.contacts.forEach((c, i) => {
      lines.push(
        `${owner} 300 IN NAPTR 100 ${(i + 1) * 10} "u" "${services[c.service]}" "!^.*$!${c.uri}!" .`,
      );
    });
    lines.push(`${owner} 300 IN TXT "v=sbkey1; k=${e.identityKey}; p=${e.provider}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** Shuffles in place with the seeded PRNG (Fisher-Yates). */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/** Which numbers a query file asks for. */
export type QueryMix = 'mixed' | 'existing' | 'missing';

/**
 * A dnsperf input file (`<name> NAPTR` per line): `mixed` is half published, half unpublished
 * numbers in random order; `existing` only published ones.
 */
export function queryFileText(zone: BenchZone, mix: QueryMix, seed = 7): string {
  const random = seededRandom(seed);
  const existing = zone.entries.map((e) => e.number);
  let numbers: string[];
  if (mix === 'existing') numbers = [...existing];
  else if (mix === 'missing') numbers = [...zone.missing];
  else {
    const n = Math.min(existing.length, zone.missing.length);
    numbers = [...existing.slice(0, n), ...zone.missing.slice(0, n)];
  }
  return `${shuffle(numbers, random)
    .map((n) => `${enumName(n, zone.apex)} NAPTR`)
    .join('\n')}\n`;
}
