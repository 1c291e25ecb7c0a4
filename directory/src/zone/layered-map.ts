/** Marks a key a layer removes from its base. */
export const REMOVED: unique symbol = Symbol('removed');
export type Removed = typeof REMOVED;

/**
 * An immutable map made of a large base shared between versions and a small layer of changes
 * over it, so that a new version of a 100,000-name zone costs what changed, not a copy of every
 * name. {@link with} makes the next version; once its layer has grown past a fraction of the
 * base it is folded into a new base (so lookups stay two at most and the cost is amortised).
 */
export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly base: ReadonlyMap<K, V>;
  readonly layer: ReadonlyMap<K, V | Removed>;
  readonly size: number;

  private constructor(base: ReadonlyMap<K, V>, layer: ReadonlyMap<K, V | Removed>, size: number) {
    this.base = base;
    this.layer = layer;
    this.size = size;
  }

  /** A version holding exactly `map` (taken over, not copied). */
  static of<K, V>(map: ReadonlyMap<K, V>): LayeredMap<K, V> {
    return new LayeredMap(map, new Map(), map.size);
  }

  /** The next version: `changes` set keys to values, or remove them ({@link REMOVED}). */
  with(changes: Iterable<readonly [K, V | Removed]>): LayeredMap<K, V> {
    const layer = new Map(this.layer);
    let size = this.size;
    for (const [key, value] of changes) {
      const had = this.#hasIn(layer, key);
      if (value === REMOVED) {
        if (!had) continue;
        size -= 1;
        if (this.base.has(key)) layer.set(key, REMOVED);
        else layer.delete(key);
      } else {
        if (!had) size += 1;
        layer.set(key, value);
      }
    }
    if (layer.size > Math.max(1024, this.base.size / 8)) {
      const folded = new Map<K, V>();
      for (const [key, value] of this.#entriesOf(layer)) folded.set(key, value);
      return LayeredMap.of(folded);
    }
    return new LayeredMap(this.base, layer, size);
  }

  get(key: K): V | undefined {
    const v = this.layer.get(key);
    if (v !== undefined) return v === REMOVED ? undefined : v;
    return this.base.get(key);
  }

  has(key: K): boolean {
    return this.#hasIn(this.layer, key);
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this) callback.call(thisArg, value, key, this);
  }

  *keys(): MapIterator<K> {
    for (const [key] of this) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this) yield value;
  }

  entries(): MapIterator<[K, V]> {
    return this.#entriesOf(this.layer);
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  #hasIn(layer: ReadonlyMap<K, V | Removed>, key: K): boolean {
    const v = layer.get(key);
    if (v !== undefined) return v !== REMOVED;
    return this.base.has(key);
  }

  *#entriesOf(layer: ReadonlyMap<K, V | Removed>): MapIterator<[K, V]> {
    for (const [key, value] of this.base) {
      if (!layer.has(key)) yield [key, value];
    }
    for (const [key, value] of layer) {
      if (value !== REMOVED) yield [key, value];
    }
  }
}
