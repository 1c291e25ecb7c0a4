import type { DnskeyData, ResourceRecord } from '@switchboard/dns-wire';
import { RRClass, RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { enumNameOfParsed } from '@switchboard/e164';
import { AnswerCache } from './answer-cache.js';
import type { Removed } from './layered-map.js';
import { LayeredMap, REMOVED } from './layered-map.js';
import type { NameIndex } from './name-index.js';
import { LayeredIndex, wireName } from './name-index.js';
import type { NumberEntry, Unservable } from './records.js';
import { RECORD_TTL, recordsForEntry, unencodable } from './records.js';

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
 * One immutable version of the zone, answered from memory. Names are lower case and absolute.
 * Unchanged numbers keep their RRset arrays from the previous snapshot, so signatures cached by
 * RRset identity survive unrelated changes.
 */
export interface ZoneSnapshot {
  readonly settings: ZoneSettings;
  readonly serial: number;
  readonly nodes: LayeredMap<string, Node>;
  /** The same nodes by wire-form name, for answering straight from a query's octets. */
  readonly index: LayeredIndex<Node>;
  /** Encoded answers, handed from snapshot to snapshot (fast-path.ts). */
  readonly answers: AnswerCache;
  /** Which entry serial each number node was built from (for reuse). */
  readonly builtFrom: LayeredMap<string, number>;
  /** For a snapshot made by {@link updateZone}: the one it was made from, and the names changed. */
  readonly changes?: { readonly serial: number; readonly names: readonly string[] };
  /** Entries built into this snapshot as {@link UNSERVABLE} (only the changed ones after an update). */
  readonly unservable: readonly UnservableEntry[];
}

/** Builds the snapshot for `serial` from all entries. */
export function buildZone(
  settings: ZoneSettings,
  serial: number,
  entries: readonly NumberEntry[],
  dnskeys: readonly DnskeyData[],
): ZoneSnapshot {
  const { apex } = settings;
  const nodes = new Map<string, Node>();
  const builtFrom = new Map<string, number>();
  nodes.set(apex, apexNode(settings, serial, dnskeys));
  const bad: UnservableEntry[] = [];
  for (const entry of entries) {
    const name = enumNameOfParsed(entry.number, apex);
    builtFrom.set(name, entry.serial);
    nodes.set(name, numberNode(entry, settings, name, bad));
  }
  return snapshotOf(
    settings,
    serial,
    LayeredMap.of(nodes),
    LayeredMap.of(builtFrom),
    new AnswerCache(),
    [apex],
    bad,
  );
}

/**
 * The snapshot for `serial` made from `previous` and what changed since: `changed` entries
 * (new or replaced) and `numbers`, every number now published, or undefined when none was
 * removed (see {@link expectedCount}). Nodes of
 * unchanged numbers are carried over as they are, so signatures cached by RRset identity, and
 * answers kept in the answer cache, survive the change; only the changed names and the apex
 * (whose SOA serial moves) are built anew.
 */
export function updateZone(
  previous: ZoneSnapshot,
  serial: number,
  numbers: readonly E164Number[] | undefined,
  changed: readonly NumberEntry[],
  dnskeys: readonly DnskeyData[],
): ZoneSnapshot {
  const { settings } = previous;
  const { apex } = settings;
  const nodeChanges: Array<[string, Node | Removed]> = [
    [apex, apexNode(settings, serial, dnskeys, previous.nodes.get(apex))],
  ];
  const serialChanges: Array<[string, number | Removed]> = [];
  const bad: UnservableEntry[] = [];
  for (const entry of changed) {
    const name = enumNameOfParsed(entry.number, apex);
    nodeChanges.push([name, numberNode(entry, settings, name, bad)]);
    serialChanges.push([name, entry.serial]);
  }
  if (numbers) {
    const present = new Set(numbers.map((n) => enumNameOfParsed(n, apex)));
    for (const name of previous.builtFrom.keys()) {
      if (present.has(name)) continue;
      nodeChanges.push([name, REMOVED]);
      serialChanges.push([name, REMOVED]);
    }
  }
  const nodes = previous.nodes.with(nodeChanges);
  return snapshotOf(
    settings,
    serial,
    nodes,
    previous.builtFrom.with(serialChanges),
    previous.answers,
    nodeChanges.map(([name]) => name),
    bad,
    nodes.base === previous.nodes.base ? previous.index.base : undefined,
    previous.serial,
  );
}

/**
 * How many numbers `previous` updated with `changed` holds if none was removed: when the store
 * counts a different number, {@link updateZone} needs the list of numbers.
 */
export function expectedCount(previous: ZoneSnapshot, changed: readonly NumberEntry[]): number {
  const { apex } = previous.settings;
  let added = 0;
  for (const entry of changed) {
    if (!previous.builtFrom.has(enumNameOfParsed(entry.number, apex))) added += 1;
  }
  return previous.builtFrom.size + added;
}

function snapshotOf(
  settings: ZoneSettings,
  serial: number,
  nodes: LayeredMap<string, Node>,
  builtFrom: LayeredMap<string, number>,
  answers: AnswerCache,
  changed: readonly string[],
  unservableEntries: readonly UnservableEntry[],
  baseIndex?: NameIndex<Node>,
  from?: number,
): ZoneSnapshot {
  const index = new LayeredIndex(nodes, baseIndex);
  const snapshot: ZoneSnapshot = {
    settings,
    serial,
    nodes,
    index,
    answers,
    builtFrom,
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
  const node = zone.nodes.get(name);
  if (node === UNSERVABLE) return { kind: 'unservable' };
  if (node) return { kind: 'node', node };
  if (!name.endsWith(`.${apex}`)) return { kind: 'outside' };
  const labels = name.slice(0, -(apex.length + 1)).split('.');
  if (labels.length <= 15 && labels.every((l) => l.length === 1 && l >= '0' && l <= '9')) {
    return { kind: 'empty' };
  }
  return { kind: 'nxname' };
}
