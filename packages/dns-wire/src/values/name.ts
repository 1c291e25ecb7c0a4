// Domain names: presentation form <-> labels <-> wire form (RFC 1035 3.1, 4.1.4, 5.1;
// RFC 4343 escapes; RFC 4034 6.1 canonical order).
import { DnsWireError } from '../errors.js';
import type { DomainName } from '../types.js';

const MAX_LABEL = 63;
const MAX_NAME = 255;

/** Splits a presentation-form name into raw label octets (root = no labels). */
const PLAIN_ASCII = /^[\x21-\x5b\x5d-\x7e]*$/;

export function nameToLabels(name: DomainName): Uint8Array[] {
  if (name === '' || name === '.') return [];
  if (PLAIN_ASCII.test(name)) return plainLabels(name);
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let wireLength = 1;
  const finish = (): void => {
    if (current.length === 0) throw new DnsWireError('bad-value', -1, 'empty label in name');
    if (current.length > MAX_LABEL)
      throw new DnsWireError('bad-label', -1, 'label longer than 63 octets');
    wireLength += current.length + 1;
    labels.push(Uint8Array.from(current));
    current = [];
  };
  let i = 0;
  while (i < name.length) {
    const ch = name.charCodeAt(i);
    if (ch === 0x5c /* \ */) {
      const d = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new DnsWireError('bad-value', -1, 'escape \\DDD above 255 in name');
        current.push(v);
        i += 4;
      } else if (i + 1 < name.length) {
        const cp = name.codePointAt(i + 1) ?? 0;
        pushUtf8(current, cp);
        i += cp > 0xffff ? 3 : 2;
      } else {
        throw new DnsWireError('bad-value', -1, 'dangling backslash in name');
      }
    } else if (ch === 0x2e /* . */) {
      finish();
      i += 1;
      if (i === name.length) break;
    } else {
      const cp = name.codePointAt(i) ?? 0;
      pushUtf8(current, cp);
      i += cp > 0xffff ? 2 : 1;
    }
  }
  if (current.length > 0) finish();
  if (wireLength > MAX_NAME)
    throw new DnsWireError('name-too-long', -1, 'name longer than 255 octets');
  return labels;
}

/** Fast path for names of printable ASCII without escapes (the common case). */
function plainLabels(name: string): Uint8Array[] {
  const parts = name.split('.');
  if (parts[parts.length - 1] === '') parts.pop();
  let wireLength = 1;
  const labels: Uint8Array[] = [];
  for (const part of parts) {
    if (part.length === 0) throw new DnsWireError('bad-value', -1, 'empty label in name');
    if (part.length > MAX_LABEL)
      throw new DnsWireError('bad-label', -1, 'label longer than 63 octets');
    wireLength += part.length + 1;
    const label = new Uint8Array(part.length);
    for (let i = 0; i < part.length; i++) label[i] = part.charCodeAt(i);
    labels.push(label);
  }
  if (wireLength > MAX_NAME)
    throw new DnsWireError('name-too-long', -1, 'name longer than 255 octets');
  return labels;
}

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else for (const b of new TextEncoder().encode(String.fromCodePoint(cp))) out.push(b);
}

/**
 * Octets printed as themselves in presentation form; every other octet is escaped (RFC 1035
 * 5.1, as BIND prints them): `.`, backslash and the zone-file specials `"();@$` as backslash and
 * the character, other octets outside 0x21..0x7e as backslash and three decimal digits.
 */
export const PRINTS_AS_ITSELF: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let b = 0x21; b < 0x7f; b++) table[b] = 1;
  for (const c of '.\\"();@$') table[c.charCodeAt(0)] = 0;
  return table;
})();

/** Presentation form of one label (RFC 1035 5.1 escapes, as BIND prints them). */
export function labelToString(label: Uint8Array): string {
  let plain = true;
  for (let i = 0; i < label.length; i++) {
    if (PRINTS_AS_ITSELF[label[i] as number] === 0) {
      plain = false;
      break;
    }
  }
  if (plain) return String.fromCharCode.apply(null, label as unknown as number[]);
  let s = '';
  for (const b of label) {
    if (b <= 0x20 || b >= 0x7f) s += '\\' + String(b).padStart(3, '0');
    else if (PRINTS_AS_ITSELF[b] === 0) s += '\\' + String.fromCharCode(b);
    else s += String.fromCharCode(b);
  }
  return s;
}

export function labelsToName(labels: readonly Uint8Array[]): DomainName {
  if (labels.length === 0) return '.';
  let s = '';
  for (const l of labels) s += labelToString(l) + '.';
  return s;
}

/**
 * The absolute form of `name` if it is already in normal presentation form but for a missing
 * final dot: only octets that print as themselves, no empty label, labels of at most 63 octets
 * and at most 255 octets on the wire. Such names need no parsing; anything else (escapes,
 * non-ASCII, errors) returns undefined and takes the general path, which also reports errors.
 */
export function simpleAbsoluteName(name: string): string | undefined {
  const n = name.length;
  if (n === 0 || n > 254) return undefined;
  let labelStart = 0;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > MAX_LABEL) return undefined;
      labelStart = i + 1;
    } else if (c > 0xff || PRINTS_AS_ITSELF[c] === 0) return undefined;
  }
  if (labelStart === n) return name; // ends with the root dot; wire length = n + 1 <= 255
  if (n - labelStart > MAX_LABEL || n + 2 > MAX_NAME) return undefined;
  return name + '.';
}

/** The name in absolute presentation form (trailing dot), escapes normalised, case kept. */
export function normalizeName(name: DomainName): DomainName {
  return simpleAbsoluteName(name) ?? labelsToName(nameToLabels(name));
}

function lowerLabel(label: Uint8Array): Uint8Array {
  let changed = false;
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) {
    const b = label[i] ?? 0;
    if (b >= 0x41 && b <= 0x5a) {
      out[i] = b + 0x20;
      changed = true;
    } else out[i] = b;
  }
  return changed ? out : label;
}

export function lowerLabels(labels: readonly Uint8Array[]): Uint8Array[] {
  return labels.map(lowerLabel);
}

/** RFC 4034 6.2: absolute, US-ASCII letters lowercased. */
export function canonicalName(name: DomainName): DomainName {
  // ASCII-only names: toLowerCase changes exactly A-Z, as RFC 4034 6.2 asks.
  return simpleAbsoluteName(name)?.toLowerCase() ?? labelsToName(lowerLabels(nameToLabels(name)));
}

/** Case-insensitive (ASCII) name equality (RFC 4343). */
export function namesEqual(a: DomainName, b: DomainName): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** The labels in presentation form, leftmost first, without the root. */
export function nameLabels(name: DomainName): string[] {
  return nameToLabels(name).map(labelToString);
}

/** RRSIG Labels value for an owner name (RFC 4034 3.1.3): no root, no leading wildcard. */
export function labelCount(name: DomainName): number {
  const labels = nameToLabels(name);
  const first = labels[0];
  const wildcard = first !== undefined && first.length === 1 && first[0] === 0x2a;
  return wildcard ? labels.length - 1 : labels.length;
}

/** True if `name` equals `ancestor` or is below it. */
export function isSubdomainOf(name: DomainName, ancestor: DomainName): boolean {
  const n = lowerLabels(nameToLabels(name));
  const a = lowerLabels(nameToLabels(ancestor));
  if (a.length > n.length) return false;
  for (let i = 1; i <= a.length; i++) {
    if (!bytesEqual(n[n.length - i] as Uint8Array, a[a.length - i] as Uint8Array)) return false;
  }
  return true;
}

/** The name with its leftmost `count` labels removed. */
export function stripLabels(name: DomainName, count: number): DomainName {
  return labelsToName(nameToLabels(name).slice(count));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** memcmp order; a shorter prefix sorts first (RFC 4034 6.1 / 6.3). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** RFC 4034 6.1 canonical DNS name order (negative, zero, positive). */
export function compareCanonicalNames(a: DomainName, b: DomainName): number {
  return compareLabelSequences(lowerLabels(nameToLabels(a)), lowerLabels(nameToLabels(b)));
}

/** Canonical order for already lowercased label lists. */
export function compareLabelSequences(a: readonly Uint8Array[], b: readonly Uint8Array[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 1; i <= n; i++) {
    const d = compareBytes(a[a.length - i] as Uint8Array, b[b.length - i] as Uint8Array);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Uncompressed wire form of a name. */
export function encodeName(name: DomainName): Uint8Array {
  const labels = nameToLabels(name);
  return labelsToWire(labels);
}

export function labelsToWire(labels: readonly Uint8Array[]): Uint8Array {
  let len = 1;
  for (const l of labels) len += l.length + 1;
  const out = new Uint8Array(len);
  let p = 0;
  for (const l of labels) {
    out[p++] = l.length;
    out.set(l, p);
    p += l.length;
  }
  out[p] = 0;
  return out;
}

/** Wire length of a name without compression. */
export function nameWireLength(name: DomainName): number {
  let len = 1;
  for (const l of nameToLabels(name)) len += l.length + 1;
  return len;
}

export interface DecodedLabels {
  readonly labels: Uint8Array[];
  /** Offset just after the name at its original position (after the first pointer, if any). */
  readonly end: number;
}

/**
 * Reads a possibly compressed name. Each pointer must point strictly before the start of the
 * label run that led to it, so decoding always terminates (RFC 1035 4.1.4 allows only prior
 * occurrences).
 */
export function decodeLabels(buf: Uint8Array, offset: number): DecodedLabels {
  const labels: Uint8Array[] = [];
  let pos = offset;
  let runStart = offset;
  let end = -1;
  let wireLength = 1;
  for (;;) {
    if (pos >= buf.length) throw new DnsWireError('truncated', pos, 'name runs past the end');
    const len = buf[pos] as number;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsWireError('truncated', pos, 'truncated pointer');
      const target = ((len & 0x3f) << 8) | (buf[pos + 1] as number);
      if (target >= runStart)
        throw new DnsWireError('bad-pointer', pos, 'compression pointer does not point backwards');
      if (end < 0) end = pos + 2;
      pos = target;
      runStart = target;
      continue;
    }
    if (kind !== 0) throw new DnsWireError('bad-label', pos, 'unsupported label type');
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length)
      throw new DnsWireError('truncated', pos, 'label runs past the end');
    wireLength += len + 1;
    if (wireLength > MAX_NAME)
      throw new DnsWireError('name-too-long', pos, 'name longer than 255 octets');
    labels.push(buf.slice(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { labels, end };
}

/** Reads a possibly compressed name at `offset` of a whole message. */
export function decodeName(buf: Uint8Array, offset: number): { name: DomainName; end: number } {
  const { labels, end } = decodeLabels(buf, offset);
  return { name: labelsToName(labels), end };
}
