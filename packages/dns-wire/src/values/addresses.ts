// IPv4 / IPv6 text <-> octets (RFC 4291 2.2, RFC 5952 4 canonical output).
import { DnsWireError } from '../errors.js';

export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4) throw new DnsWireError('bad-value', -1, 'invalid IPv4 address');
  const out = new Uint8Array(4);
  parts.forEach((p, i) => {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)
      throw new DnsWireError('bad-value', -1, 'invalid IPv4 address');
    out[i] = Number(p);
  });
  return out;
}

export function formatIpv4(b: Uint8Array): string {
  return Array.from(b).join('.');
}

export function parseIpv6(text: string): Uint8Array {
  const bad = (): never => {
    throw new DnsWireError('bad-value', -1, 'invalid IPv6 address');
  };
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) bad();
  const parse = (h: string): number[] =>
    h === ''
      ? []
      : h.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
          return parseInt(g, 16);
        });
  const head = parse(halves[0] ?? '');
  const groups: number[] = [];
  if (halves.length === 2) {
    const back = [...parse(halves[1] ?? ''), ...tail];
    const fill = 8 - head.length - back.length;
    if (fill < 1) bad();
    groups.push(...head, ...new Array<number>(fill).fill(0), ...back);
  } else {
    groups.push(...head, ...tail);
  }
  if (groups.length !== 8) bad();
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >>> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // RFC 5952 4.2: compress the longest run (>= 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}
