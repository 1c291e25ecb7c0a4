import { nameHash } from './name-index.js';

/** Where {@link AnswerCache.find} found an answer: `bytes[start, start + length)`. */
export interface FoundAnswer {
  bytes: Uint8Array;
  start: number;
  length: number;
}

/** `renewAt` of an answer that never needs renewing (one without signatures). */
export const NEVER = 0xffffffff;

/** The default cap of the answers kept: 1 GiB (DIRECTORY_ANSWER_CACHE_MB). */
export const ANSWER_CACHE_DEFAULT_BYTES = 1 << 30;
/** The largest cap: slot references count 8-octet units in an Int32Array. */
export const ANSWER_CACHE_MAX_BYTES = 2 ** 34 - 2 ** 20;
/** Octets per segment: evicting one walks its entries (about 1.5 ms for 4 MiB, decisions.md). */
export const ANSWER_CACHE_SEGMENT_BYTES = 4 << 20;

/** Slots of the previous table moved per put while the slots grow. */
const MOVE_STEP = 4096;
/** Entry header: the name's hash (4), the name's length (1). */
const HEAD = 5;
/** Per answer: query type (2), DNSSEC wanted (1), renew at (4, seconds), length (2). */
const ANSWER_HEAD = 9;

/**
 * Encoded answers by owner name, kept in a ring of fixed-size segments of octets: a name's entry
 * holds its wire name and, right after it, every answer kept for it (by query type, with or
 * without DNSSEC), so answering a published number from here touches a few neighbouring cache
 * lines rather than a chain of objects spread over a large heap. Names are found by open
 * addressing over FNV-1a hashes (name-index.ts), with linear probing and backward-shift
 * deletion (no tombstones).
 *
 * New and rewritten entries are written at the head of the ring; a rewrite leaves its old entry
 * behind as garbage. Segments are allocated as the cache grows, up to the cap; once every one is
 * in use, the head moves into the oldest segment by first evicting its live entries (FIFO by
 * segment): a walk of one segment, never a copy or an emptying of the whole cache.
 *
 * One cache follows the zone from snapshot to snapshot: {@link handOver} forgets the names that
 * changed and serves the new snapshot; any other snapshot is not served (a miss, always safe).
 *
 * Entry layout (8-octet aligned, never across segments): name hash (4), name length (1), wire
 * name, answer count (1), then per answer: query type (2), DNSSEC wanted (1), renew at (4,
 * seconds), length (2), the answer's octets.
 */
export class AnswerCache {
  /** Per slot: the name's hash, and 1 + its entry's offset in 8-octet units (0 empty). */
  #slots = new Int32Array(2 * 1024);
  #mask = 1023;
  /** Slots in use. */
  #filled = 0;
  /**
   * While the slots grow: the previous table, whose entries move to #slots a few thousand slots
   * per put (and any one found on the way), so growing never stops the event loop for long.
   * Its slots left behind hold -1.
   */
  #old: Int32Array | undefined;
  #oldMask = 0;
  /** Live slots left in #old, and the next slot of it to move. */
  #oldLeft = 0;
  #cursor = 0;
  readonly #segments: Buffer[] = [];
  /** Per segment: the end of what was written in it. */
  readonly #ends: number[] = [];
  /** Per segment: octets of its live entries. */
  readonly #liveIn: number[] = [];
  /** Octets of live entries. */
  #live = 0;
  /** The segment written to, and where in it. */
  #head: number;
  #used = 0;
  readonly #segmentBytes: number;
  /** log2 of the 8-octet units per segment. */
  readonly #unitsShift: number;
  readonly #count: number;
  readonly #maxBytes: number;
  readonly #moveStep: number;
  /** The snapshot answered for, compared by identity only. */
  #owner: object | undefined;
  /** Live entries evicted so far. */
  #evicted = 0;
  /** Of {@link put}: the answers of the old entry kept besides the new one. */
  #othersCount = 0;

  /**
   * `maxBytes`: the most octets of segments allocated (default 1 GiB); `segmentBytes` (a power
   * of two, at least 64): octets per segment, halved until at least two fit the cap;
   * `moveStep`: slots moved per put while the slots grow (tests take few).
   */
  constructor(
    maxBytes = ANSWER_CACHE_DEFAULT_BYTES,
    segmentBytes = ANSWER_CACHE_SEGMENT_BYTES,
    moveStep = MOVE_STEP,
  ) {
    this.#moveStep = moveStep;
    this.#maxBytes = Math.min(Math.max(maxBytes, 128), ANSWER_CACHE_MAX_BYTES);
    let segment = 64;
    while (segment * 2 <= segmentBytes && segment * 4 <= this.#maxBytes) segment *= 2;
    this.#segmentBytes = segment;
    this.#unitsShift = Math.log2(segment / 8);
    this.#count = Math.floor(this.#maxBytes / segment);
    this.#head = this.#count - 1;
  }

  /** Whether `zone` is the snapshot this cache answers for. */
  serves(zone: object): boolean {
    return zone === this.#owner;
  }

  /** Serves `zone` from now on, forgetting what was kept for `changed` names (wire form). */
  handOver(zone: object, changed: Iterable<Uint8Array>): void {
    for (const wire of changed) this.#delete(wire, wire.length, nameHash(wire));
    this.#owner = zone;
  }

  /**
   * The answer kept for the wire name `name[0, nameLength)` (lowercase, hash `hash`), query
   * type and DNSSEC flag, if kept and not due for renewal at `now` (seconds): fills `found`.
   */
  find(
    name: Uint8Array,
    nameLength: number,
    hash: number,
    qtype: number,
    dnssec: boolean,
    now: number,
    found: FoundAnswer,
  ): boolean {
    const slot = this.#slotOf(name, nameLength, hash);
    if (slot < 0) return false;
    const ref = (this.#slots[slot + 1] as number) - 1;
    const segment = this.#segments[ref >>> this.#unitsShift] as Buffer;
    let p = this.#offsetOf(ref) + HEAD + nameLength;
    const count = segment[p++] as number;
    const flag = dnssec ? 1 : 0;
    for (let i = 0; i < count; i++) {
      const length = ((segment[p + 7] as number) << 8) | (segment[p + 8] as number);
      if (sameKey(segment, p, qtype, flag)) {
        if (now >= segment.readUInt32BE(p + 3)) return false;
        found.bytes = segment;
        found.start = p + ANSWER_HEAD;
        found.length = length;
        return true;
      }
      p += ANSWER_HEAD + length;
    }
    return false;
  }

  /**
   * Keeps `answer` for the name (as {@link find} takes it), type and flag, replacing any. An
   * entry too large for a segment (or for 255 answers) is not kept: the name's entry is dropped.
   */
  put(
    name: Uint8Array,
    nameLength: number,
    hash: number,
    qtype: number,
    dnssec: boolean,
    renewAt: number,
    answer: Uint8Array,
  ): void {
    this.#move(this.#moveStep);
    let slot = nameLength > 255 ? -1 : this.#slotOf(name, nameLength, hash);
    const flag = dnssec ? 1 : 0;
    this.#othersCount = 0;
    const others = slot < 0 ? 0 : this.#othersSize(slot, nameLength, qtype, flag);
    const size = align(HEAD + nameLength + 1 + others + ANSWER_HEAD + answer.length);
    const fits = size <= this.#segmentBytes && this.#othersCount < 255;
    if (nameLength > 255 || answer.length > 0xffff || !fits) {
      if (slot >= 0) this.#clear(slot);
      return;
    }
    // Moving the head may evict the old entry, or move its slot.
    if (this.#reserve(size) && slot >= 0) slot = this.#slotOf(name, nameLength, hash);
    const segment = this.#segments[this.#head] as Buffer;
    const at = this.#used;
    segment.writeInt32BE(hash, at);
    segment[at + 4] = nameLength;
    segment.set(name.subarray(0, nameLength), at + HEAD);
    let w = at + HEAD + nameLength;
    if (slot < 0) segment[w++] = 1;
    else w = this.#copyOthers(slot, segment, w, qtype, flag);
    writeAnswer(segment, w, qtype, flag, renewAt, answer);
    this.#used = at + align(w + ANSWER_HEAD + answer.length - at);
    this.#ends[this.#head] = this.#used;
    this.#place(slot, hash, at, this.#used - at);
  }

  /**
   * Whether `octets` more would leave the cache at most three quarters full of live answers,
   * without evicting any: background work fills it only so far, leaving it to queries to push
   * answers out. (The next segment of the ring must hold no live entry, whatever the head holds.)
   */
  hasRoom(octets: number): boolean {
    if (this.#live + octets > (this.#maxBytes / 4) * 3) return false;
    const next = (this.#head + 1) % this.#count;
    return next >= this.#segments.length || this.#liveIn[next] === 0;
  }

  /** Octets of the segments allocated (never more than the cap), for tests and metrics. */
  get allocated(): number {
    return this.#segments.length * this.#segmentBytes;
  }

  /** Octets of live entries, for tests and metrics. */
  get live(): number {
    return this.#live;
  }

  /** How many live entries were evicted to make room, for tests and metrics. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Octets per segment, for tests. */
  get segmentBytes(): number {
    return this.#segmentBytes;
  }

  #offsetOf(ref: number): number {
    return (ref & ((1 << this.#unitsShift) - 1)) * 8;
  }

  /** The index in #slots of the name's slot (moved there from #old if found there), or -1. */
  #slotOf(name: Uint8Array, nameLength: number, hash: number): number {
    const slot = this.#probe(this.#slots, this.#mask, name, nameLength, hash);
    const old = this.#old;
    if (slot >= 0 || old === undefined) return slot;
    const was = this.#probe(old, this.#oldMask, name, nameLength, hash);
    if (was < 0) return -1;
    const ref = old[was + 1] as number;
    old[was + 1] = -1;
    this.#oldLeft -= 1;
    return this.#insert(hash, ref);
  }

  /** The index in `slots` of the name's slot, or -1. */
  #probe(
    slots: Int32Array,
    mask: number,
    name: Uint8Array,
    nameLength: number,
    hash: number,
  ): number {
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const ref = slots[2 * i + 1] as number;
      if (ref === 0) return -1;
      if (ref < 0 || slots[2 * i] !== hash) continue;
      const segment = this.#segments[(ref - 1) >>> this.#unitsShift] as Buffer;
      const at = this.#offsetOf(ref - 1) + HEAD;
      if (segment[at - 1] !== nameLength) continue;
      let k = 0;
      while (k < nameLength && segment[at + k] === name[k]) k++;
      if (k === nameLength) return 2 * i;
    }
  }

  /**
   * Octets of the answers of the entry at `slot` other than (qtype, flag); adds their number to
   * #othersCount (which put resets).
   */
  #othersSize(slot: number, nameLength: number, qtype: number, flag: number): number {
    const ref = (this.#slots[slot + 1] as number) - 1;
    const segment = this.#segments[ref >>> this.#unitsShift] as Buffer;
    let p = this.#offsetOf(ref) + HEAD + nameLength;
    const count = segment[p++] as number;
    let size = 0;
    for (let i = 0; i < count; i++) {
      const length = ANSWER_HEAD + (((segment[p + 7] as number) << 8) | (segment[p + 8] as number));
      if (!sameKey(segment, p, qtype, flag)) {
        size += length;
        this.#othersCount += 1;
      }
      p += length;
    }
    return size;
  }

  /** Copies the entry at `slot`'s answers other than (qtype, flag) to `w` of `to`: the end. */
  #copyOthers(slot: number, to: Buffer, w: number, qtype: number, flag: number): number {
    const ref = (this.#slots[slot + 1] as number) - 1;
    const from = this.#segments[ref >>> this.#unitsShift] as Buffer;
    let p = this.#offsetOf(ref) + HEAD + (from[this.#offsetOf(ref) + 4] as number);
    const count = from[p++] as number;
    const countAt = w++;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const length = ANSWER_HEAD + (((from[p + 7] as number) << 8) | (from[p + 8] as number));
      if (!sameKey(from, p, qtype, flag)) {
        from.copy(to, w, p, p + length);
        w += length;
        kept++;
      }
      p += length;
    }
    to[countAt] = kept + 1;
    return w;
  }

  /** Points the name's slot (`slot`, or a new one) at the entry just written at the head. */
  #place(slot: number, hash: number, at: number, size: number): void {
    const ref = this.#head * (this.#segmentBytes / 8) + at / 8 + 1;
    if (slot >= 0) {
      this.#unlive((this.#slots[slot + 1] as number) - 1);
      this.#slots[slot + 1] = ref;
    } else {
      this.#insert(hash, ref);
    }
    this.#live += size;
    this.#liveIn[this.#head] = (this.#liveIn[this.#head] as number) + size;
  }

  /** Counts the entry at `ref` (8-octet units, from 0) as garbage. */
  #unlive(ref: number): void {
    const index = ref >>> this.#unitsShift;
    const size = entryLength(this.#segments[index] as Buffer, this.#offsetOf(ref));
    this.#live -= size;
    this.#liveIn[index] = (this.#liveIn[index] as number) - size;
  }

  #delete(name: Uint8Array, nameLength: number, hash: number): void {
    const slot = this.#slotOf(name, nameLength, hash);
    if (slot >= 0) this.#clear(slot);
  }

  /** Forgets the entry at `slot`, leaving its octets as garbage. */
  #clear(slot: number): void {
    this.#unlive((this.#slots[slot + 1] as number) - 1);
    this.#remove(slot / 2);
  }

  /** Empties slot `i`, moving later slots of its probe run back (no tombstones). */
  #remove(i: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let hole = i;
    for (let j = (i + 1) & mask; slots[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = (slots[2 * j] as number) & mask;
      // The entry at j may move to the hole unless its home lies after the hole (cyclically).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[2 * hole] = slots[2 * j] as number;
        slots[2 * hole + 1] = slots[2 * j + 1] as number;
        hole = j;
      }
    }
    slots[2 * hole] = 0;
    slots[2 * hole + 1] = 0;
    this.#filled -= 1;
  }

  /** Adds a slot for `hash` and `ref`: its index in #slots. */
  #insert(hash: number, ref: number): number {
    if (2 * (this.#filled + this.#oldLeft + 1) > this.#mask + 1) this.#grow();
    return this.#add(hash, ref);
  }

  /** {@link #insert} without growing (the table has room). */
  #add(hash: number, ref: number): number {
    const slots = this.#slots;
    let i = hash & this.#mask;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & this.#mask;
    this.#filled += 1;
    slots[2 * i] = hash;
    slots[2 * i + 1] = ref;
    return 2 * i;
  }

  /**
   * Starts a table at least four times as large as the live slots; the live ones move to it
   * step by step ({@link #move}). A growth still moving is finished first.
   */
  #grow(): void {
    if (this.#old) this.#move(Infinity);
    let size = this.#mask + 1;
    while (4 * (this.#filled + 1) > size) size *= 2;
    this.#old = this.#slots;
    this.#oldMask = this.#mask;
    this.#oldLeft = this.#filled;
    this.#cursor = 0;
    this.#slots = new Int32Array(2 * size);
    this.#mask = size - 1;
    this.#filled = 0;
  }

  /** Moves the live slots among the next `steps` of #old to #slots; drops #old once done. */
  #move(steps: number): void {
    const old = this.#old;
    if (old === undefined) return;
    const end = Math.min(old.length / 2, this.#cursor + steps);
    for (let i = this.#cursor; i < end; i++) {
      const ref = old[2 * i + 1] as number;
      if (ref <= 0) continue;
      old[2 * i + 1] = -1;
      this.#oldLeft -= 1;
      this.#add(old[2 * i] as number, ref);
    }
    this.#cursor = end;
    if (end === old.length / 2) this.#old = undefined;
  }

  /**
   * Makes room for `size` octets at the head: moves it to the next segment when the head's is
   * full, allocating it, or evicting its live entries once every segment is in use. True if it
   * evicted any entry.
   */
  #reserve(size: number): boolean {
    if (this.#segments.length > 0 && this.#used + size <= this.#segmentBytes) return false;
    const next = (this.#head + 1) % this.#count;
    let evicted = false;
    if (next >= this.#segments.length) {
      this.#segments.push(Buffer.alloc(this.#segmentBytes));
      this.#ends.push(0);
      this.#liveIn.push(0);
    } else {
      evicted = this.#evict(next);
    }
    this.#head = next;
    this.#used = 0;
    return evicted;
  }

  /** Forgets the live entries of segment `index`, emptying it: true if there were any. */
  #evict(index: number): boolean {
    const segment = this.#segments[index] as Buffer;
    const evicted = (this.#liveIn[index] as number) > 0;
    const base = index * (this.#segmentBytes / 8) + 1;
    const end = evicted ? (this.#ends[index] as number) : 0;
    for (let p = 0; p < end; p += entryLength(segment, p)) {
      const i = refSlot(this.#slots, this.#mask, segment.readInt32BE(p), base + p / 8);
      if (i >= 0) this.#remove(i);
      const old = i < 0 ? this.#old : undefined;
      const j = old ? refSlot(old, this.#oldMask, segment.readInt32BE(p), base + p / 8) : -1;
      if (old && j >= 0) {
        old[2 * j + 1] = -1;
        this.#oldLeft -= 1;
      }
      if (i >= 0 || j >= 0) this.#evicted += 1;
    }
    this.#live -= this.#liveIn[index] as number;
    this.#liveIn[index] = 0;
    this.#ends[index] = 0;
    return evicted;
  }
}

/** The slot of `slots` (a probe run from `hash`) that points at `ref`, or -1. */
function refSlot(slots: Int32Array, mask: number, hash: number, ref: number): number {
  for (let i = hash & mask; slots[2 * i + 1] !== 0; i = (i + 1) & mask) {
    if (slots[2 * i + 1] === ref) return i;
  }
  return -1;
}

/** `n` rounded up to a multiple of 8. */
function align(n: number): number {
  return (n + 7) & ~7;
}

/** Whether the answer at `p` of `segment` is for `qtype` and the DNSSEC flag `flag`. */
function sameKey(segment: Buffer, p: number, qtype: number, flag: number): boolean {
  return (
    ((segment[p] as number) << 8) + (segment[p + 1] as number) === qtype && segment[p + 2] === flag
  );
}

/** Writes one answer (its head and octets) at `w` of `segment`. */
function writeAnswer(
  segment: Buffer,
  w: number,
  qtype: number,
  flag: number,
  renewAt: number,
  answer: Uint8Array,
): void {
  segment[w] = qtype >>> 8;
  segment[w + 1] = qtype & 0xff;
  segment[w + 2] = flag;
  segment.writeUInt32BE(renewAt >>> 0, w + 3);
  segment[w + 7] = answer.length >>> 8;
  segment[w + 8] = answer.length & 0xff;
  segment.set(answer, w + ANSWER_HEAD);
}

/** Octets of the entry at `at` of `segment`, alignment included. */
function entryLength(segment: Buffer, at: number): number {
  let p = at + HEAD + (segment[at + 4] as number);
  const count = segment[p++] as number;
  for (let i = 0; i < count; i++) {
    p += ANSWER_HEAD + (((segment[p + 7] as number) << 8) | (segment[p + 8] as number));
  }
  return align(p - at);
}
