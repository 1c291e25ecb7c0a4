import { encodeName } from '@switchboard/dns-wire';

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
