import { isIPv4, isIPv6 } from 'node:net';

/** How many leading bits of a client address identify "one client" for rate limiting. */
export interface PrefixLengths {
  /** Default 32 (one IPv4 address). */
  readonly ipv4Prefix?: number;
  /** Default 64: one IPv6 subnet, the smallest block a single host is normally given. */
  readonly ipv6Prefix?: number;
}

/**
 * The network prefix a client address is grouped under, e.g. `192.0.2.0/24` or
 * `20010db8000000000000000000000000/64`. Rate limits keyed by the full address are worthless
 * against IPv6, where one host has 2^64 addresses; key them by this instead. IPv4-mapped IPv6
 * addresses count as IPv4. Anything unparseable is its own key (prefixed, so it cannot collide).
 */
export function clientPrefix(address: string, lengths: PrefixLengths = {}): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = mapped ?? (isIPv4(address) ? address : undefined);
  if (v4 !== undefined) {
    const bits = clamp(lengths.ipv4Prefix ?? 32, 32);
    const n = v4.split('.').reduce((acc, o) => acc * 256 + (Number(o) & 255), 0);
    const masked = bits === 0 ? 0 : Math.floor(n / 2 ** (32 - bits)) * 2 ** (32 - bits);
    return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.')}/${bits}`;
  }
  const zoneless = address.split('%')[0] ?? '';
  if (!isIPv6(zoneless)) return `other:${address}`;
  const bits = clamp(lengths.ipv6Prefix ?? 64, 128);
  const hex = expandIpv6(zoneless);
  let out = '';
  for (let i = 0; i < 32; i++) {
    const nibble = parseInt(hex[i] ?? '0', 16);
    const keep = Math.max(0, Math.min(4, bits - i * 4));
    out += ((nibble >> (4 - keep)) << (4 - keep)).toString(16);
  }
  return `${out}/${bits}`;
}

function clamp(bits: number, max: number): number {
  return Math.max(0, Math.min(max, Math.floor(bits)));
}

// 32 hex nibbles of an IPv6 address (embedded IPv4 tails converted).
function expandIpv6(address: string): string {
  let text = address.toLowerCase();
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4Tail) {
    const o = v4Tail.split('.').map(Number);
    const hi = (((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16);
    const lo = (((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16);
    text = `${text.slice(0, -v4Tail.length)}${hi}:${lo}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0')).join('');
}
