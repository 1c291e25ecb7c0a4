// Denial records an online signer builds per query: RFC 4470 minimally covering NSEC
// ("white lies") and RFC 9824 compact denial of existence.
import {
  RRClass,
  RRType,
  nameLabels,
  normalizeName,
  simpleAbsoluteName,
} from '@switchboard/dns-wire';
import type { DomainName } from '@switchboard/dns-wire';
import type { NsecRecord, OnlineDenialOptions } from '../core/constants.js';
import { DnssecError } from '../core/errors.js';

function parseLabel(text: string): number[] {
  // Presentation label -> octets (escapes handled by dns-wire's normalizeName round trip).
  const out: number[] = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === '\\') {
      const ddd = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(ddd)) {
        out.push(Number(ddd));
        i += 4;
      } else {
        out.push(text.charCodeAt(i + 1));
        i += 2;
      }
    } else {
      for (const b of new TextEncoder().encode(text[i] as string)) out.push(b);
      i += 1;
    }
  }
  return out;
}

function labelText(bytes: readonly number[]): string {
  return bytes
    .map((b) =>
      b <= 0x20 || b >= 0x7f || '.\\"();@$'.includes(String.fromCharCode(b))
        ? '\\' + String(b).padStart(3, '0')
        : String.fromCharCode(b),
    )
    .join('');
}

function wireLength(labels: readonly number[][]): number {
  return labels.reduce((n, l) => n + l.length + 1, 1);
}

/**
 * The immediate predecessor of `name` in canonical order, as far as any existing name can be
 * (RFC 4470 4.1, "absolute method"): decrement the last octet of the first label, pad it with
 * \255 and prepend \255 labels up to 255 octets. A first label ending in \000 loses that octet.
 */
export function nsecPredecessor(name: DomainName): DomainName {
  const labels = nameLabels(name).map(parseLabel);
  const first = labels[0];
  if (!first) throw new DnssecError('bad-option', 'the root has no predecessor');
  const rest = labels.slice(1);
  const last = first[first.length - 1] as number;
  if (last === 0) {
    const shorter = first.slice(0, -1);
    const out = shorter.length ? [shorter, ...rest] : rest;
    return normalizeName(out.map(labelText).join('.') + '.');
  }
  let dec = last - 1;
  // Uppercase letters sort as lowercase; step below 'A' so the order stays right.
  if (dec >= 0x41 && dec <= 0x5a) dec = 0x40;
  const label = [...first.slice(0, -1), dec];
  const out = [label, ...rest];
  while (label.length < 63 && wireLength(out) < 255) label.push(0xff);
  while (wireLength(out) < 255) {
    const room = 255 - wireLength(out) - 1;
    if (room < 1) break;
    out.unshift(new Array<number>(Math.min(63, room)).fill(0xff));
  }
  return normalizeName(out.map(labelText).join('.') + '.');
}

/** The immediate successor of `name` (RFC 4470 4.1): `\000.name` when it fits. */
export function nsecSuccessor(name: DomainName): DomainName {
  // Common case first: a name in normal form whose successor fits (no label parsing needed).
  const simple = simpleAbsoluteName(name);
  if (simple !== undefined && simple.length + 3 <= 255) return '\\000.' + simple;
  const labels = nameLabels(name).map(parseLabel);
  if (wireLength(labels) + 2 <= 255) return normalizeName('\\000.' + normalizeName(name));
  const first = labels[0] as number[];
  if (wireLength(labels) < 255 && first.length < 63) {
    first.push(0);
    return normalizeName(labels.map(labelText).join('.') + '.');
  }
  // Increment the last octet that is not \255 in the first label, dropping what follows.
  while (first.length > 0 && first[first.length - 1] === 0xff) first.pop();
  if (first.length === 0)
    return nsecSuccessor(normalizeName(labels.slice(1).map(labelText).join('.') + '.'));
  let inc = (first.pop() as number) + 1;
  if (inc >= 0x41 && inc <= 0x5a) inc = 0x5b;
  first.push(inc);
  return normalizeName(labels.map(labelText).join('.') + '.');
}

/**
 * An NSEC that covers `qname` and nothing else (RFC 4470): owner = predecessor, next =
 * successor, types RRSIG NSEC. Sign it with `signRrset` at query time.
 */
export function minimalCoveringNsec(qname: DomainName, options: OnlineDenialOptions): NsecRecord {
  return {
    name: nsecPredecessor(qname),
    type: RRType.NSEC,
    class: RRClass.IN,
    ttl: options.ttl,
    data: { nextDomainName: nsecSuccessor(qname), types: [RRType.RRSIG, RRType.NSEC] },
  };
}

/**
 * RFC 9824 compact denial: an NSEC at `qname` with next name `\000.qname`. For a name that does
 * not exist pass 'nxdomain' (bitmap RRSIG NSEC NXNAME, answer NOERROR); for NODATA pass the types
 * that exist at `qname`.
 */
export function compactDenialNsec(
  qname: DomainName,
  types: readonly number[] | 'nxdomain',
  options: OnlineDenialOptions,
): NsecRecord {
  const bitmap =
    types === 'nxdomain'
      ? [RRType.RRSIG, RRType.NSEC, RRType.NXNAME]
      : [...new Set([...types, RRType.RRSIG, RRType.NSEC])].sort((a, b) => a - b);
  return {
    name: normalizeName(qname),
    type: RRType.NSEC,
    class: RRClass.IN,
    ttl: options.ttl,
    data: { nextDomainName: nsecSuccessor(qname), types: bitmap },
  };
}
