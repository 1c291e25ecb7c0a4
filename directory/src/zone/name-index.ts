import { encodeName } from '@switchboard/dns-wire';
import type { LayeredMap, Removed } from './layered-map.js';
import { REMOVED } from './layered-map.js';

/** FNV-1a offset basis: the hash of no octets. */
export const NAME_HASH_START = 0x811c9dc5 | 0;

/** One octet more of an FNV-1a hash (32 bits). */
export function nameHashStep(hash: number, octet: number): number {
  return Math.imul(hash ^ octet, 0x01000193);
}

/** The FNV-1a hash of `wire[0, length)`. */
export function nameHash(wire: Uint8Array, length: number = wire.length): number {
  let hash = NAME_HASH_START;
  for (let i = 0; i < length; i++) hash = nameHashStep(hash, wire[i] as number);
  return hash;
}

/**
 * The owner names of one zone snapshot, looked up by their wire form (lowercase, uncompressed)
 * straight from octets a query carries: a lookup makes no string and no object. Open
 * addressing over FNV-1a hashes, at most half full; keys are kept in one array of octets.
 */
export class NameIndex<T> {
  readonly #keys: Uint8Array;
  /** Entry i's key is keys[starts[i], starts[i + 1]). */
  readonly #starts: Int32Array;
  readonly #hashes: Int32Array;
  /** Entry index + 1 per slot; 0 is empty. */
  readonly #slots: Int32Array;
  readonly #mask: number;
  readonly #values: T[] = [];

  /** `entries`: absolute, lowercase names and their values. */
  constructor(entries: ReadonlyMap<string, T>) {
    const wires: Uint8Array[] = [];
    let total = 0;
    for (const [name, value] of entries) {
      const wire = wireName(name);
      wires.push(wire);
      this.#values.push(value);
      total += wire.length;
    }
    const n = wires.length;
    this.#keys = new Uint8Array(total);
    this.#starts = new Int32Array(n + 1);
    this.#hashes = new Int32Array(n);
    let size = 16;
    while (size < 2 * n) size *= 2;
    this.#slots = new Int32Array(size);
    this.#mask = size - 1;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const wire = wires[i] as Uint8Array;
      this.#keys.set(wire, at);
      this.#starts[i] = at;
      at += wire.length;
      const hash = nameHash(wire);
      this.#hashes[i] = hash;
      let slot = hash & this.#mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & this.#mask;
      this.#slots[slot] = i + 1;
    }
    this.#starts[n] = at;
  }

  get size(): number {
    return this.#values.length;
  }

  /**
   * The value for the wire name `octets[0, length)`, already lowercased, whose hash
   * (NAME_HASH_START then nameHashStep over every octet) is `hash`.
   */
  get(octets: Uint8Array, length: number, hash: number): T | undefined {
    const keys = this.#keys;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = (this.#slots[slot] as number) - 1;
      if (entry < 0) return undefined;
      if (this.#hashes[entry] !== hash) continue;
      const start = this.#starts[entry] as number;
      if ((this.#starts[entry + 1] as number) - start !== length) continue;
      let i = 0;
      while (i < length && keys[start + i] === octets[i]) i++;
      if (i === length) return this.#values[entry];
    }
  }
}

/** The wire form of a lowercase absolute name; plain names are written without a parser. */
export function wireName(name: string): Uint8Array {
  if (name === '.' || name.includes('\\') || !name.endsWith('.')) return encodeName(name);
  const out = new Uint8Array(name.length + 1);
  let lengthAt = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (i === lengthAt || i - lengthAt > 63) return encodeName(name); // let it say what is wrong
      out[lengthAt] = i - lengthAt;
      lengthAt = i + 1;
    } else {
      if (c > 0x7f) return encodeName(name);
      out[i + 1] = c;
    }
  }
  return out; // the last octet, the root label, is 0
}

/**
 * The index of a {@link LayeredMap}: one {@link NameIndex} over its base, kept from version to
 * version while the base is, and a small one over its layer, looked up first.
 */
export class LayeredIndex<T> {
  readonly base: NameIndex<T>;
  readonly #layer: NameIndex<T | Removed>;

  /** `baseIndex`: the index of `map.base` if one was built already. */
  constructor(map: LayeredMap<string, T>, baseIndex?: NameIndex<T>) {
    this.base = baseIndex ?? new NameIndex(map.base);
    this.#layer = new NameIndex(map.layer);
  }

  /** As {@link NameIndex.get}. */
  get(octets: Uint8Array, length: number, hash: number): T | undefined {
    const v = this.#layer.get(octets, length, hash);
    if (v !== undefined) return v === REMOVED ? undefined : v;
    return this.base.get(octets, length, hash);
  }
}
