import type { DnskeyData, ResourceRecord } from '@switchboard/dns-wire';
import { RRClass, RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { AnswerCache } from './answer-cache.js';
import type { ImageEntry } from './image.js';
import { ZoneImage } from './image.js';
import { wireName } from './name-index.js';
import type { Contact, NumberEntry, Unservable } from './records.js';
import { rdataOf, RECORD_TTL, recordsForEntry, unencodable } from './records.js';

/** Zone-wide settings that do not change between snapshots. */
export interface ZoneSettings {
  /** Absolute, lower case. */
  readonly apex: string;
  /** NS targets (absolute). The first is the SOA MNAME. */
  readonly nameServers: readonly string[];
  /** SOA RNAME (absolute). */
  readonly hostmaster: string;
  readonly soaTtl: number;
  /** SOA MINIMUM, also the negative-answer TTL (RFC 2308, RFC 9077). */
  readonly negativeTtl: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly dnskeyTtl: number;
  readonly recordTtl: number;
}

/** Defaults for {@link ZoneSettings} given an apex. */
export function defaultZoneSettings(apex: string): ZoneSettings {
  return {
    apex,
    nameServers: ['ns1.switchboard.test.'],
    hostmaster: 'hostmaster.switchboard.test.',
    soaTtl: 300,
    negativeTtl: 300,
    refresh: 300,
    retry: 60,
    expire: 1_209_600,
    dnskeyTtl: 3600,
    recordTtl: RECORD_TTL,
  };
}

/** The RRsets at one owner name, by TYPE; each array is one RRset (never empty). */
export type Node = ReadonlyMap<number, readonly ResourceRecord[]>;

/**
 * The node of a stored entry whose records cannot be encoded (stored before the publish API
 * checked octets, or by a foreign writer): no RRsets, so it is neither signed, warmed nor
 * transferred, and its name answers SERVFAIL ({@link classifyName}). Compared by identity.
 */
export const UNSERVABLE: Node = new Map();

/** A stored entry left out of the zone; what is logged of it (no number, no contact). */
export interface UnservableEntry extends Unservable {
  /** The zone serial that first contained the entry (finds its row in the store). */
  readonly serial: number;
  readonly provider: string;
}

/**
 * One version of the zone. The apex is held in memory; the numbers are read from the zone
 * image (image.ts, a local SQLite file) through {@link ImageNodes}, both shared from snapshot to
 * snapshot and changed in place when the zone changes (one transaction, then the new snapshot
 * is served), so a snapshot costs what changed, whatever the zone's size. Only the snapshot
 * served now is meant to be read: what an older one finds in the image is the current content.
 * Names are lower case and absolute.
 */
export interface ZoneSnapshot {
  readonly settings: ZoneSettings;
  readonly serial: number;
  /** SOA, NS and DNSKEY. */
  readonly apexNode: Node;
  readonly image: ZoneImage;
  /** The image's entries as RRsets, the recently used ones kept decoded. */
  readonly nodes: ImageNodes;
  /** Encoded answers, handed from snapshot to snapshot (fast-path.ts). */
  readonly answers: AnswerCache;
  /** For a snapshot made by {@link updateZone}: the one it was made from, and the names changed. */
  readonly changes?: { readonly serial: number; readonly names: readonly string[] };
  /** Entries built into this snapshot as {@link UNSERVABLE} (only the changed ones after an update). */
  readonly unservable: readonly UnservableEntry[];
}

/** The token of images filled by {@link buildZone} (from entries, not from a store). */
const ENTRIES_TOKEN = 'entries';

/** The image row of an entry. */
export function imageEntry(entry: NumberEntry): ImageEntry {
  return {
    digits: entry.number.slice(1),
    serial: entry.serial,
    provider: entry.provider,
    identityKey: entry.identityKey,
    contacts: JSON.stringify(entry.contacts),
  };
}

/**
 * What the kept answers of an image depend on besides the entries (apex, TTLs, keys, signature
 * policy): images made under other settings drop their kept answers.
 */
export function answersFingerprint(
  settings: ZoneSettings,
  dnskeys: readonly DnskeyData[],
  policy: unknown,
): string {
  const keys = dnskeys.map((k) => Buffer.from(k.publicKey).toString('base64'));
  return JSON.stringify({ settings, keys, policy });
}

/**
 * The snapshot for `serial` holding exactly `entries`, in `image` (default: a new in-memory
 * one), filled anew.
 */
export function buildZone(
  settings: ZoneSettings,
  serial: number,
  entries: readonly NumberEntry[],
  dnskeys: readonly DnskeyData[],
  image: ZoneImage = ZoneImage.open(':memory:', answersFingerprint(settings, dnskeys, null)),
): ZoneSnapshot {
  const build = image.rebuild();
  build.add(entries.map(imageEntry));
  build.finish(serial, ENTRIES_TOKEN);
  return imageZone(settings, image, dnskeys);
}

/** The snapshot of what `image` holds now (it must have been filled). */
export function imageZone(
  settings: ZoneSettings,
  image: ZoneImage,
  dnskeys: readonly DnskeyData[],
  nodes: ImageNodes = new ImageNodes(image, settings),
  answers: AnswerCache = new AnswerCache(),
): ZoneSnapshot {
  const serial = image.serial;
  if (serial === undefined) throw new Error('the zone image was never filled');
  nodes.forgetAll();
  return snapshotOf(
    settings,
    serial,
    apexNode(settings, serial, dnskeys),
    image,
    nodes,
    answers,
    [settings.apex],
    [],
  );
}

/**
 * The snapshot for `serial` made from `previous` and what changed since: `changed` entries
 * (new or replaced), `removed` numbers, and `numbers`, every number now published, when some
 * were removed that `removed` does not name (see {@link expectedCount}). The image is changed
 * in place; answers kept for unchanged numbers (in memory and in the image) survive; only the
 * changed names and the apex (whose SOA serial moves) are built anew.
 */
export function updateZone(
  previous: ZoneSnapshot,
  serial: number,
  numbers: readonly E164Number[] | undefined,
  changed: readonly NumberEntry[],
  dnskeys: readonly DnskeyData[],
  removed: readonly E164Number[] = [],
  token: string = previous.image.token ?? ENTRIES_TOKEN,
): ZoneSnapshot {
  const { settings, image, nodes } = previous;
  const { apex } = settings;
  const gone = removed.map((n) => n.slice(1));
  if (numbers) {
    const present = new Set(numbers.map((n) => n.slice(1)));
    for (const e of image.entries()) if (!present.has(e.digits)) gone.push(e.digits);
  }
  image.apply(serial, changed.map(imageEntry), gone, token, (row) => {
    const records = wireRecordsOfRow(row, settings);
    return Array.isArray(records) ? records : [];
  });
  const touched = [...gone, ...changed.map((e) => e.number.slice(1))];
  nodes.forget(touched);
  const bad: UnservableEntry[] = [];
  for (const entry of changed) nodes.get(entry.number.slice(1), bad);
  const names = [apex, ...touched.map((digits) => nameOfDigits(digits, apex))];
  return snapshotOf(
    settings,
    serial,
    apexNode(settings, serial, dnskeys, previous.apexNode),
    image,
    nodes,
    previous.answers,
    names,
    bad,
    previous.serial,
  );
}

/**
 * How many numbers `previous` updated with `changed` and `removed` holds: when the store
 * counts a different number, {@link updateZone} needs the list of numbers.
 */
export function expectedCount(
  previous: ZoneSnapshot,
  changed: readonly NumberEntry[],
  removed: readonly E164Number[] = [],
): number {
  const { image } = previous;
  const present = new Map<string, boolean>();
  const held = (digits: string): boolean => {
    let h = present.get(digits);
    if (h === undefined) {
      h = image.entry(digits) !== undefined;
      present.set(digits, h);
    }
    return h;
  };
  let count = image.count;
  for (const n of removed) {
    const digits = n.slice(1);
    if (held(digits)) count -= 1;
    present.set(digits, false);
  }
  for (const entry of changed) {
    const digits = entry.number.slice(1);
    if (!held(digits)) count += 1;
    present.set(digits, true);
  }
  return count;
}

function snapshotOf(
  settings: ZoneSettings,
  serial: number,
  apex: Node,
  image: ZoneImage,
  nodes: ImageNodes,
  answers: AnswerCache,
  changed: readonly string[],
  unservableEntries: readonly UnservableEntry[],
  from?: number,
): ZoneSnapshot {
  const snapshot: ZoneSnapshot = {
    settings,
    serial,
    apexNode: apex,
    image,
    nodes,
    answers,
    unservable: unservableEntries,
    ...(from !== undefined ? { changes: { serial: from, names: changed } } : {}),
  };
  // Kept answers of changed names are dropped; the cache serves the new snapshot from now on.
  answers.handOver(snapshot, changed.map(wireName));
  return snapshot;
}

/** SOA, NS and DNSKEY at the apex; NS and DNSKEY carried over from `previous` when given. */
function apexNode(
  settings: ZoneSettings,
  serial: number,
  dnskeys: readonly DnskeyData[],
  previous?: Node,
): Node {
  const { apex } = settings;
  const node = new Map<number, readonly ResourceRecord[]>();
  node.set(RRType.SOA, [
    {
      name: apex,
      type: RRType.SOA,
      class: RRClass.IN,
      ttl: settings.soaTtl,
      data: {
        mname: settings.nameServers[0] ?? apex,
        rname: settings.hostmaster,
        serial,
        refresh: settings.refresh,
        retry: settings.retry,
        expire: settings.expire,
        minimum: settings.negativeTtl,
      },
    },
  ]);
  node.set(
    RRType.NS,
    previous?.get(RRType.NS) ??
      settings.nameServers.map((target) => ({
        name: apex,
        type: RRType.NS,
        class: RRClass.IN,
        ttl: settings.soaTtl,
        data: { target },
      })),
  );
  node.set(
    RRType.DNSKEY,
    previous?.get(RRType.DNSKEY) ??
      dnskeys.map((data) => ({
        name: apex,
        type: RRType.DNSKEY,
        class: RRClass.IN,
        ttl: settings.dnskeyTtl,
        data,
      })),
  );
  return node;
}

/**
 * The RRsets of one published number, or {@link UNSERVABLE} (noted in `bad`) when they could not
 * be encoded into a DNS message.
 */
function numberNode(
  entry: NumberEntry,
  settings: ZoneSettings,
  name: string,
  bad: UnservableEntry[],
): Node {
  const records = recordsForEntry(entry, settings.apex, settings.recordTtl, name);
  const why = unencodable(records, entry.contacts);
  if (why) {
    bad.push({ ...why, serial: entry.serial, provider: entry.provider });
    return UNSERVABLE;
  }
  const node = new Map<number, ResourceRecord[]>();
  for (const rr of records) {
    const list = node.get(rr.type);
    if (list) list.push(rr);
    else node.set(rr.type, [rr]);
  }
  return node;
}

/**
 * The node of an image row, decoded with nothing kept or reported: {@link UNSERVABLE} when it
 * cannot be encoded (for warming on another thread, dns/warm-worker.ts; the caller reports it).
 */
export function nodeOfRow(row: ImageEntry, settings: ZoneSettings): Node {
  return numberNode(entryOf(row), settings, nameOfDigits(row.digits, settings.apex), []);
}

/**
 * The records of an image row in wire form (uncompressed, as `encodeRecord` writes them), in
 * the order its node holds them, encoded straight from the entry (the RDATA {@link unencodable}
 * made); or why it cannot be served. For transfers (AXFR streamed on a worker, the IXFR journal).
 */
export function wireRecordsOfRow(
  row: ImageEntry,
  settings: ZoneSettings,
): Uint8Array[] | UnservableEntry {
  const entry = entryOf(row);
  const name = nameOfDigits(row.digits, settings.apex);
  const records = recordsForEntry(entry, settings.apex, settings.recordTtl, name);
  const why = unencodable(records, entry.contacts);
  if (why) return { ...why, serial: row.serial, provider: row.provider };
  const owner = wireName(name);
  return records.map((rr) => {
    const rdata = rdataOf(rr);
    const out = new Uint8Array(owner.length + 10 + rdata.length);
    out.set(owner, 0);
    const view = new DataView(out.buffer);
    let at = owner.length;
    view.setUint16(at, rr.type);
    view.setUint16(at + 2, rr.class);
    view.setUint32(at + 4, rr.ttl);
    view.setUint16(at + 8, rdata.length);
    at += 10;
    out.set(rdata, at);
    return out;
  });
}

/** The entry of an image row. */
function entryOf(row: ImageEntry): NumberEntry {
  return {
    number: `+${row.digits}` as E164Number,
    provider: row.provider,
    identityKey: row.identityKey,
    contacts: JSON.parse(row.contacts) as Contact[],
    serial: row.serial,
    updatedAt: 0,
  };
}

/** The ENUM name of a number's digits under `apex`. */
export function nameOfDigits(digits: string, apex: string): string {
  let name = '';
  for (let i = digits.length - 1; i >= 0; i--) name += `${digits[i]}.`;
  return name + apex;
}

/**
 * The digits a name in the digit tree stands for (1 to 15 single-digit labels right under
 * `apex`, read from the apex down), or undefined for any other name.
 */
export function digitsOfName(name: string, apex: string): string | undefined {
  const end = name.length - apex.length;
  if (end < 2 || !name.endsWith(apex) || name[end - 1] !== '.') return undefined;
  if (end % 2 !== 0 || end > 30) return undefined;
  let digits = '';
  for (let i = end - 2; i >= 0; i -= 2) {
    const c = name.charCodeAt(i);
    if (c < 0x30 || c > 0x39 || name.charCodeAt(i + 1) !== 0x2e) return undefined;
    digits += name[i];
  }
  return digits;
}

/**
 * The image's entries as nodes ({@link Node}), decoded on demand; the most recently used are
 * kept (bounded), so RRsets keep their identity and their signatures (signer.ts) while in use.
 * Entries that cannot be encoded are {@link UNSERVABLE}, each reported once per version
 * through {@link onUnservable} when found outside an update (which reports its own).
 */
export class ImageNodes {
  readonly #image: ZoneImage;
  readonly #settings: ZoneSettings;
  readonly #max: number;
  readonly #kept = new Map<string, { node: Node; serial: number }>();
  readonly #reported = new Set<string>();
  /** Told of each stored entry found {@link UNSERVABLE} while answering or transferring. */
  onUnservable: ((bad: UnservableEntry) => void) | undefined;

  constructor(image: ZoneImage, settings: ZoneSettings, max = 10_000) {
    this.#image = image;
    this.#settings = settings;
    this.#max = max;
  }

  /**
   * The node of `digits`, if held; unservable entries found are added to `bad`. `keep`: keep
   * it decoded (false for a pass over the whole zone).
   */
  get(digits: string, bad?: UnservableEntry[], keep = true): Node | undefined {
    const kept = this.#kept.get(digits);
    if (kept) {
      this.#kept.delete(digits);
      this.#kept.set(digits, kept);
      return kept.node;
    }
    const row = this.#image.entry(digits);
    if (!row) return undefined;
    return this.#decode(row, bad, keep);
  }

  /** The node of an entry read from the image (by a transfer, say). */
  ofEntry(row: ImageEntry): Node {
    const kept = this.#kept.get(row.digits);
    if (kept && kept.serial === row.serial) return kept.node;
    return this.#decode(row, undefined, false);
  }

  /** The serial of the entry `digits` was built from, if held. */
  serialOf(digits: string): number | undefined {
    return this.#kept.get(digits)?.serial ?? this.#image.entry(digits)?.serial;
  }

  /** Forgets the nodes of numbers that changed. */
  forget(digits: Iterable<string>): void {
    for (const d of digits) this.#kept.delete(d);
  }

  forgetAll(): void {
    this.#kept.clear();
  }

  /**
   * Forgets the least recently used quarter of the nodes kept, in one pass. Not one at a time:
   * a Map keeps deleted entries as holes at the front of its table until it is rebuilt, and
   * each `keys().next()` walks them, so evicting the oldest per insert cost thousands of steps
   * an insert once the cache was full (a sixth of the decoding time at 10,000,000 numbers).
   */
  #evict(): void {
    let left = Math.max(1, this.#max >> 2);
    for (const digits of this.#kept.keys()) {
      this.#kept.delete(digits);
      if (--left === 0) break;
    }
  }

  /**
   * Reports an unservable entry of `digits` once per version: added to `bad` when given, else
   * told to {@link onUnservable} (entries a transfer worker found, say).
   */
  report(digits: string, found: UnservableEntry, bad?: UnservableEntry[]): void {
    const id = `${digits}|${found.serial}`;
    if (this.#reported.has(id)) return;
    if (this.#reported.size >= 100_000) this.#reported.clear();
    this.#reported.add(id);
    if (bad) bad.push(found);
    else this.onUnservable?.(found);
  }

  #decode(row: ImageEntry, bad: UnservableEntry[] | undefined, keep = true): Node {
    const { apex } = this.#settings;
    const found: UnservableEntry[] = [];
    const node = numberNode(entryOf(row), this.#settings, nameOfDigits(row.digits, apex), found);
    for (const b of found) this.report(row.digits, b, bad);
    if (keep) {
      if (this.#kept.size >= this.#max) this.#evict();
      this.#kept.set(row.digits, { node, serial: row.serial });
    }
    return node;
  }
}

/** The node at `name` (lower case, absolute), if any: the apex or a published number. */
export function nodeAt(zone: ZoneSnapshot, name: string): Node | undefined {
  const { apex } = zone.settings;
  if (name === apex) return zone.apexNode;
  const digits = digitsOfName(name, apex);
  return digits === undefined ? undefined : zone.nodes.get(digits);
}

/** The serial of the entry the node at `name` was built from (0 for the apex or no node). */
export function entrySerialAt(zone: ZoneSnapshot, name: string): number {
  const digits = digitsOfName(name, zone.settings.apex);
  return digits === undefined ? 0 : (zone.nodes.serialOf(digits) ?? 0);
}

/**
 * Every node of the zone with its name, the apex first, numbers in digit order, leaving out
 * {@link UNSERVABLE} entries: the image read as of the call (see {@link ZoneImage.entries}).
 */
export function* eachNode(zone: ZoneSnapshot): Generator<[string, Node]> {
  const { apex } = zone.settings;
  yield [apex, zone.apexNode];
  for (const row of zone.image.entries(zone.serial)) {
    const node = zone.nodes.ofEntry(row);
    if (node !== UNSERVABLE) yield [nameOfDigits(row.digits, apex), node];
  }
}

/** How a query name relates to the zone. */
export type NameClass =
  | { readonly kind: 'outside' }
  | { readonly kind: 'node'; readonly node: Node }
  /** A stored entry that cannot be encoded ({@link UNSERVABLE}): SERVFAIL. */
  | { readonly kind: 'unservable' }
  /**
   * A name in the digit tree (1 to 15 single-digit labels under the apex) that holds no
   * records. Every such name is answered as an empty non-terminal, whether or not a number
   * exists below it: answering real ENTs differently would let anyone walk the tree digit by
   * digit (docs/directory-records.md, "Signing and denial of existence").
   */
  | { readonly kind: 'empty' }
  /** Any other name under the apex: does not exist (RFC 9824 NXNAME). */
  | { readonly kind: 'nxname' };

/** Classifies a lower-case absolute name. */
export function classifyName(zone: ZoneSnapshot, name: string): NameClass {
  const { apex } = zone.settings;
  if (name === apex) return { kind: 'node', node: zone.apexNode };
  if (!name.endsWith(`.${apex}`)) return { kind: 'outside' };
  const digits = digitsOfName(name, apex);
  if (digits === undefined) return { kind: 'nxname' };
  const node = zone.nodes.get(digits);
  if (node === UNSERVABLE) return { kind: 'unservable' };
  if (node) return { kind: 'node', node };
  return { kind: 'empty' };
}
