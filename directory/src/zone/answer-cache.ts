import { nameHash } from './name-index.js';

/** Where {@link AnswerCache.find} found an answer: `bytes[start, start + length)`. */
export interface FoundAnswer {
  bytes: Uint8Array;
  start: number;
  length: number;
}

/** `renewAt` of an answer that never needs renewing (one without signatures). */
export const NEVER = 0xffffffff;

/**
 * Encoded answers by owner name, kept in one array of octets: a name's entry holds its wire
 * name and, right after it, every answer kept for it (by query type, with or without DNSSEC),
 * so answering a published number from here touches a few neighbouring cache lines rather than
 * a chain of objects spread over a large heap. Names are found by open addressing over FNV-1a
 * hashes (name-index.ts). Entries are rewritten at the end of the array when they change; the
 * array is compacted when it fills.
 *
 * One cache follows the zone from snapshot to snapshot: {@link handOver} forgets the names that
 * changed and serves the new snapshot; any other snapshot is not served (a miss, always safe).
 *
 * Entry layout: name length (1 octet), wire name, answer count (1), then per answer: query
 * type (2), DNSSEC wanted (1), renew at (4, seconds), length (2), the answer's octets.
 */
export class AnswerCache {
  /** Per slot: the name's hash, and 1 + its entry's offset (0 empty, -1 deleted). */
  #slots: Int32Array;
  #mask: number;
  /** Slots not empty (deleted ones included). */
  #filled = 0;
  #arena: Buffer;
  #used = 0;
  /** Octets of entries no longer referenced. */
  #garbage = 0;
  /** The snapshot answered for, compared by identity only. */
  #owner: object | undefined;
  /** The arena never grows past this; when full of live entries, every entry is dropped. */
  readonly #maxBytes: number;

  /** `maxBytes`: the most octets of answers kept (default 1 GiB). */
  constructor(initialBytes = 1 << 16, maxBytes = 1 << 30) {
    this.#slots = new Int32Array(2 * 1024);
    this.#mask = 1023;
    this.#maxBytes = Math.max(maxBytes, initialBytes);
    this.#arena = Buffer.alloc(initialBytes);
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
    const at = this.#entry(name, nameLength, hash);
    if (at < 0) return false;
    const arena = this.#arena;
    let p = at + 1 + nameLength;
    const count = arena[p++] as number;
    const flag = dnssec ? 1 : 0;
    for (let i = 0; i < count; i++) {
      const length = ((arena[p + 7] as number) << 8) | (arena[p + 8] as number);
      if (
        ((arena[p] as number) << 8) + (arena[p + 1] as number) === qtype &&
        arena[p + 2] === flag
      ) {
        if (now >= arena.readUInt32BE(p + 3)) return false;
        found.bytes = arena;
        found.start = p + 9;
        found.length = length;
        return true;
      }
      p += 9 + length;
    }
    return false;
  }

  /** Keeps `answer` for the name (as {@link find} takes it), type and flag, replacing any. */
  put(
    name: Uint8Array,
    nameLength: number,
    hash: number,
    qtype: number,
    dnssec: boolean,
    renewAt: number,
    answer: Uint8Array,
  ): void {
    if (nameLength > 255 || answer.length > 0xffff) return;
    const old = this.#entry(name, nameLength, hash);
    // The answers the entry keeps besides this one, as [offset, length] in the arena.
    const kept: number[] = [];
    let oldLength = 0;
    if (old >= 0) {
      const arena = this.#arena;
      let p = old + 1 + nameLength;
      const count = arena[p++] as number;
      for (let i = 0; i < count; i++) {
        const size = 9 + (((arena[p + 7] as number) << 8) | (arena[p + 8] as number));
        const same =
          ((arena[p] as number) << 8) + (arena[p + 1] as number) === qtype &&
          arena[p + 2] === (dnssec ? 1 : 0);
        if (!same) kept.push(p, size);
        p += size;
      }
      oldLength = p - old;
    }
    if (kept.length / 2 >= 255) return;
    let size = 2 + nameLength + 9 + answer.length;
    for (let i = 1; i < kept.length; i += 2) size += kept[i] as number;
    if (size > this.#maxBytes / 2) return;
    this.#reserve(size);
    // Compaction may have moved the old entry, or dropped it with every other.
    const from = old >= 0 ? this.#entry(name, nameLength, hash) : -1;
    if (old >= 0 && from < 0) kept.length = 0;
    const arena = this.#arena;
    const at = this.#used;
    let w = at;
    arena[w++] = nameLength;
    arena.set(name.subarray(0, nameLength), w);
    w += nameLength;
    arena[w++] = kept.length / 2 + 1;
    for (let i = 0; i < kept.length; i += 2) {
      const p = (kept[i] as number) - old + from;
      arena.copy(arena, w, p, p + (kept[i + 1] as number));
      w += kept[i + 1] as number;
    }
    arena[w] = qtype >>> 8;
    arena[w + 1] = qtype & 0xff;
    arena[w + 2] = dnssec ? 1 : 0;
    arena.writeUInt32BE(renewAt >>> 0, w + 3);
    arena[w + 7] = answer.length >>> 8;
    arena[w + 8] = answer.length & 0xff;
    arena.set(answer, w + 9);
    this.#used = w + 9 + answer.length;
    if (from >= 0) {
      this.#slots[this.#slotOf(name, nameLength, hash) + 1] = at + 1;
      this.#garbage += oldLength;
    } else {
      this.#insert(hash, at);
    }
  }

  /**
   * Whether `octets` more would leave the cache at most three quarters full of live answers:
   * background work fills it only so far, leaving it to queries to push answers out.
   */
  hasRoom(octets: number): boolean {
    return this.#used - this.#garbage + octets <= (this.#maxBytes / 4) * 3;
  }

  /** Octets in use (live entries and garbage), for tests and metrics. */
  get size(): number {
    return this.#used;
  }

  /** The offset of the name's entry, or -1. */
  #entry(name: Uint8Array, nameLength: number, hash: number): number {
    const slot = this.#slotOf(name, nameLength, hash);
    return slot < 0 ? -1 : (this.#slots[slot + 1] as number) - 1;
  }

  /** The index in #slots of the name's slot, or -1. */
  #slotOf(name: Uint8Array, nameLength: number, hash: number): number {
    const slots = this.#slots;
    const arena = this.#arena;
    for (let i = hash & this.#mask; ; i = (i + 1) & this.#mask) {
      const ref = slots[2 * i + 1] as number;
      if (ref === 0) return -1;
      if (ref < 0 || slots[2 * i] !== hash) continue;
      const at = ref - 1;
      if (arena[at] !== nameLength) continue;
      let k = 0;
      while (k < nameLength && arena[at + 1 + k] === name[k]) k++;
      if (k === nameLength) return 2 * i;
    }
  }

  #delete(name: Uint8Array, nameLength: number, hash: number): void {
    const slot = this.#slotOf(name, nameLength, hash);
    if (slot < 0) return;
    const at = (this.#slots[slot + 1] as number) - 1;
    this.#garbage += this.#entryLength(at);
    this.#slots[slot + 1] = -1;
  }

  #entryLength(at: number): number {
    const arena = this.#arena;
    let p = at + 1 + (arena[at] as number);
    const count = arena[p++] as number;
    for (let i = 0; i < count; i++) {
      p += 9 + (((arena[p + 7] as number) << 8) | (arena[p + 8] as number));
    }
    return p - at;
  }

  #insert(hash: number, at: number): void {
    if (2 * (this.#filled + 1) > this.#mask + 1) this.#rehash();
    const slots = this.#slots;
    let i = hash & this.#mask;
    while ((slots[2 * i + 1] as number) > 0) i = (i + 1) & this.#mask;
    if (slots[2 * i + 1] === 0) this.#filled += 1;
    slots[2 * i] = hash;
    slots[2 * i + 1] = at + 1;
  }

  /** Rebuilds the slots without deleted ones, twice as many if more than a quarter are live. */
  #rehash(): void {
    const old = this.#slots;
    let live = 0;
    for (let i = 1; i < old.length; i += 2) if ((old[i] as number) > 0) live++;
    let size = this.#mask + 1;
    while (4 * (live + 1) > size) size *= 2;
    this.#slots = new Int32Array(2 * size);
    this.#mask = size - 1;
    this.#filled = 0;
    for (let i = 0; i < old.length; i += 2) {
      const ref = old[i + 1] as number;
      if (ref > 0) this.#insert(old[i] as number, ref - 1);
    }
  }

  /** Makes room for `size` more octets: compacts, and grows if still more than half full. */
  #reserve(size: number): void {
    if (this.#used + size <= this.#arena.length) return;
    const live = this.#used - this.#garbage;
    let length = this.#arena.length;
    while (2 * (live + size) > length && length < this.#maxBytes) length *= 2;
    length = Math.min(length, this.#maxBytes);
    if (live + size > length) {
      // Full of live answers at its largest: start again (the zone image keeps them too).
      this.#slots = new Int32Array(2 * 1024);
      this.#mask = 1023;
      this.#filled = 0;
      this.#used = 0;
      this.#garbage = 0;
      return;
    }
    const old = this.#arena;
    const arena = Buffer.alloc(length);
    let w = 0;
    const slots = this.#slots;
    for (let i = 1; i < slots.length; i += 2) {
      const ref = slots[i] as number;
      if (ref <= 0) continue;
      const at = ref - 1;
      const n = this.#entryLength(at);
      old.copy(arena, w, at, at + n);
      slots[i] = w + 1;
      w += n;
    }
    this.#arena = arena;
    this.#used = w;
    this.#garbage = 0;
  }
}
