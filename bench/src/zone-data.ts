// The benchmark zone: the same deterministic set of numbers and records for every server, so
// that every peer answers exactly the same questions from exactly the same data. Everything is
// computed from an index, so ten million numbers are written as streams, never held at once.
import { closeSync, openSync, writeSync } from 'node:fs';

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

export interface BenchZoneOptions extends BenchSpaceOptions {
  readonly count: number;
  readonly missingCount?: number;
  readonly apex?: string;
  readonly seed?: number;
}

export const BENCH_APEX = 'e164.switchboard.test.';
/**
 * Numbers are `+1 <NPA> <NXX> XXXX`: 99 real NANP area codes, every exchange 200-999 except
 * the N11 service codes, every line (784 million candidates, so ten million published numbers
 * and tens of millions of unpublished ones fit). libphonenumber, and therefore the directory,
 * accepts all of them (340 was dropped: it refuses most exchanges there). Nothing is dialled:
 * the numbers only name records in a zone that lives in a temp dir.
 */
const AREA_CODES = [
  201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 220,
  223, 224, 225, 226, 227, 228, 229, 231, 234, 235, 236, 239, 240, 248, 249, 250, 251, 252, 253,
  254, 256, 257, 260, 262, 263, 267, 269, 270, 272, 273, 274, 276, 279, 281, 283, 289, 301, 302,
  303, 304, 305, 306, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323,
  324, 325, 326, 327, 329, 330, 331, 332, 334, 336, 337, 339, 341, 343, 346, 347, 350, 351, 352,
  353, 354, 360, 361,
] as const;
const EXCHANGES = Array.from({ length: 800 }, (_, i) => 200 + i).filter((e) => e % 100 !== 11);
/** Candidate numbers; slot `s` is area code `s % 99`, then line, then exchange. */
export const NUMBER_SPACE = AREA_CODES.length * EXCHANGES.length * 10_000;
/** A prime not dividing NUMBER_SPACE: index -> slot is `STEP * index + offset` modulo the space. */
const STEP = 1_000_003;
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

/**
 * The numbering of one run: index `0..count-1` are published, index `count + j` is the j-th
 * unpublished number. A bijection of the space, so nothing is kept in memory per number.
 */
export interface BenchSpace {
  readonly apex: string;
  readonly count: number;
  readonly seed: number;
}

export interface BenchSpaceOptions {
  readonly count: number;
  readonly apex?: string;
  readonly seed?: number;
}

export function benchSpace(options: BenchSpaceOptions): BenchSpace {
  const { count } = options;
  if (!Number.isInteger(count) || count < 1 || count > NUMBER_SPACE / 4) {
    throw new RangeError(`count must be 1..${NUMBER_SPACE / 4}`);
  }
  return { apex: options.apex ?? BENCH_APEX, count, seed: options.seed ?? 20261122 };
}

/** Unpublished numbers a space has room for. */
export function missingCapacity(space: BenchSpace): number {
  return NUMBER_SPACE - space.count;
}

function offset(seed: number): number {
  return Math.floor(seededRandom(seed)() * NUMBER_SPACE);
}

function numberOfSlot(slot: number): string {
  const area = AREA_CODES[slot % AREA_CODES.length] as number;
  const rest = Math.floor(slot / AREA_CODES.length);
  const exchange = EXCHANGES[Math.floor(rest / 10_000)] as number;
  return `+1${area}${exchange}${String(rest % 10_000).padStart(4, '0')}`;
}

/** The number at `index` (see BenchSpace). STEP * index stays below 2^53 for every index. */
export function numberAt(space: BenchSpace, index: number): string {
  return numberOfSlot((STEP * index + offset(space.seed)) % NUMBER_SPACE);
}

const STEP_INVERSE = (() => {
  // Extended Euclid: STEP * inverse = 1 (mod NUMBER_SPACE).
  let [r0, r1, t0, t1] = [BigInt(NUMBER_SPACE), BigInt(STEP), 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, t0, t1] = [r1, r0 - q * r1, t1, t0 - q * t1];
  }
  return Number(((t0 % BigInt(NUMBER_SPACE)) + BigInt(NUMBER_SPACE)) % BigInt(NUMBER_SPACE));
})();

/** `a * b mod NUMBER_SPACE` for a, b below it (< 2^30), in exact Number arithmetic. */
function mulMod(a: number, b: number): number {
  const high = (a * Math.floor(b / 32_768)) % NUMBER_SPACE; // < 2^45 before the modulo
  return (high * 32_768 + a * (b % 32_768)) % NUMBER_SPACE;
}

/** The index whose number sits in `slot` (the inverse of numberAt's map). */
function indexOfSlot(space: BenchSpace, slot: number): number {
  return mulMod((slot - offset(space.seed) + NUMBER_SPACE) % NUMBER_SPACE, STEP_INVERSE);
}

/** The index of an E.164 number in the space, or undefined when it is outside it. */
export function indexOf(space: BenchSpace, number: string): number | undefined {
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number);
  const area = AREA_CODES.indexOf(Number(m?.[1]) as (typeof AREA_CODES)[number]);
  const exchange = EXCHANGES.indexOf(Number(m?.[2]));
  if (!m || area < 0 || exchange < 0) return undefined;
  return indexOfSlot(space, area + AREA_CODES.length * (Number(m[3]) + 10_000 * exchange));
}

/**
 * Where a slot's number sorts among all numbers: area code, exchange, line (fixed widths, both
 * lists ascending, so this is the order of the E.164 strings), and back.
 */
function rankOfSlot(slot: number): number {
  const rest = Math.floor(slot / AREA_CODES.length);
  return (
    ((slot % AREA_CODES.length) * EXCHANGES.length + Math.floor(rest / 10_000)) * 10_000 +
    (rest % 10_000)
  );
}

function slotOfRank(rank: number): number {
  const line = rank % 10_000;
  const exchange = Math.floor(rank / 10_000) % EXCHANGES.length;
  const area = Math.floor(rank / (10_000 * EXCHANGES.length));
  return area + AREA_CODES.length * (line + 10_000 * exchange);
}

/**
 * The published indices in the order of their numbers: the order `switchboard-directory dump`
 * prints, in which a bulk import appends to the store's number index instead of inserting at
 * random places in it (about 4 bytes per number, 40 MB at ten million).
 */
export function indicesByNumber(space: BenchSpace): Uint32Array {
  const order = new Uint32Array(space.count);
  const start = offset(space.seed);
  for (let i = 0; i < space.count; i++) order[i] = rankOfSlot((STEP * i + start) % NUMBER_SPACE);
  order.sort();
  for (let k = 0; k < order.length; k++) {
    order[k] = indexOfSlot(space, slotOfRank(order[k] as number));
  }
  return order;
}

function randomBytes(random: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** The published entry at `index` (< space.count), the same on every run. */
export function benchEntry(space: BenchSpace, index: number): BenchEntry {
  const random = seededRandom(space.seed ^ Math.imul(index + 1, 0x9e3779b1));
  const user = `u${index}`;
  const key = Buffer.concat([Buffer.from([0x05]), randomBytes(random, 32)]).toString('base64');
  const contacts: { service: 'sip' | 'xmpp' | 'matrix'; uri: string }[] = [
    { service: 'sip', uri: `sip:${user}@sip.example.net` },
    { service: 'xmpp', uri: `xmpp:${user}@xmpp.example.net` },
  ];
  if (random() < 0.5) contacts.push({ service: 'matrix', uri: `matrix:u/${user}:example.net` });
  return {
    number: numberAt(space, index),
    identityKey: key,
    provider: PROVIDERS[index % PROVIDERS.length] ?? 'bench-provider',
    contacts,
  };
}

/** Every published entry, in index order (a generator: nothing held in memory). */
export function* benchEntries(space: BenchSpace): Generator<BenchEntry> {
  for (let i = 0; i < space.count; i++) yield benchEntry(space, i);
}

/** The j-th unpublished number. */
export function missingNumber(space: BenchSpace, j: number): string {
  if (j >= missingCapacity(space)) throw new RangeError('no more unpublished numbers');
  return numberAt(space, space.count + j);
}

/** Builds `count` entries and `missingCount` unpublished numbers in memory (small zones only). */
export function generateBenchZone(options: BenchZoneOptions): BenchZone {
  const space = benchSpace(options);
  const missingCount = options.missingCount ?? options.count;
  const entries = [...benchEntries(space)];
  const missing = Array.from({ length: missingCount }, (_, j) => missingNumber(space, j));
  return { apex: space.apex, entries, missing };
}

/** Writes `lines` to `file` in 1 MiB chunks (bounded memory whatever the count). */
export function writeLines(file: string, lines: Iterable<string>): number {
  const fd = openSync(file, 'w');
  let chunk: string[] = [];
  let size = 0;
  let written = 0;
  try {
    for (const line of lines) {
      chunk.push(line);
      size += line.length + 1;
      written += 1;
      if (size >= 1 << 20) {
        writeSync(fd, `${chunk.join('\n')}\n`);
        chunk = [];
        size = 0;
      }
    }
    if (chunk.length > 0) writeSync(fd, `${chunk.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * JSON Lines for `switchboard-directory import` (directory/src/state/bulk-import.ts), in number
 * order (see indicesByNumber; `order: 'index'` for the order of the zone file).
 */
export function* importLines(
  space: BenchSpace,
  order: 'number' | 'index' = 'number',
): Generator<string> {
  const indices = order === 'number' ? indicesByNumber(space) : undefined;
  for (let k = 0; k < space.count; k++) {
    const e = benchEntry(space, indices ? (indices[k] as number) : k);
    yield JSON.stringify({
      number: e.number,
      provider: e.provider,
      identityKey: e.identityKey,
      contacts: e.contacts,
    });
  }
}

/** RFC 6116 section 2.4: digits reversed, one per label, under the apex. */
export function enumName(number: string, apex: string): string {
  const digits = number.replace(/^\+/, '');
  return `${digits.split('').reverse().join('.')}.${apex}`;
}

const SERVICES = { sip: 'E2U+sip', xmpp: 'E2U+xmpp', matrix: 'E2U+matrix' } as const;

/** The zone file's lines (RFC 1035 presentation format), records as in docs/directory-records.md. */
export function* zoneLines(space: BenchSpace, serial = 1): Generator<string> {
  yield `$ORIGIN ${space.apex}`;
  yield '$TTL 300';
  yield `@ 300 IN SOA ns1.switchboard.test. hostmaster.switchboard.test. ${serial} 300 60 1209600 300`;
  yield '@ 300 IN NS ns1.switchboard.test.';
  for (const e of benchEntries(space)) {
    const owner = enumName(e.number, space.apex);
    for (const [i, c] of e.contacts.entries()) {
      yield `${owner} 300 IN NAPTR 100 ${(i + 1) * 10} "u" "${SERVICES[c.service]}" "!^.*$!${c.uri}!" .`;
    }
    yield `${owner} 300 IN TXT "v=sbkey1; k=${e.identityKey}; p=${e.provider}"`;
  }
}

/** The whole zone file as one string (small zones, tests). */
export function zoneFileText(space: BenchSpace, serial = 1): string {
  return `${[...zoneLines(space, serial)].join('\n')}\n`;
}

/** Which numbers a query file asks for. */
export type QueryMix = 'mixed' | 'existing';

export interface QueryFileOptions {
  readonly mix: QueryMix;
  /** Lines in the file. */
  readonly lines: number;
  /** First unpublished number used (files of one run take disjoint ranges). */
  readonly missingFrom?: number;
  readonly seed?: number;
}

/**
 * dnsperf input (`<name> NAPTR` per line). `existing`: random published numbers. `mixed`:
 * published and unpublished alternately, the published ones random, the unpublished ones
 * `missingFrom`, `missingFrom + 1`, ...: never the same twice (a random-name flood, so no
 * server answers a miss from a cache).
 */
export function* queryLines(space: BenchSpace, options: QueryFileOptions): Generator<string> {
  const random = seededRandom(options.seed ?? 7);
  let missing = options.missingFrom ?? 0;
  for (let k = 0; k < options.lines; k++) {
    const number =
      options.mix === 'mixed' && k % 2 === 1
        ? missingNumber(space, missing++)
        : numberAt(space, Math.floor(random() * space.count));
    yield `${enumName(number, space.apex)} NAPTR`;
  }
}

/** Whether a query name is a published number (splits latency without a set of every name). */
export function publishedNames(space: BenchSpace): { has(name: string): boolean } {
  const suffix = `.${space.apex}`;
  return {
    has(name: string): boolean {
      if (!name.endsWith(suffix)) return false;
      const digits = name.slice(0, -suffix.length).split('.').reverse().join('');
      const index = indexOf(space, `+${digits}`);
      return index !== undefined && index < space.count;
    },
  };
}
