// TYPE / CLASS / RCODE mnemonics (RFC 1035 5.1, RFC 3597 5 for TYPEnnn / CLASSnnn).
import { DnsWireError } from '../errors.js';
import { RRClass, RRType, Rcode } from '../types.js';

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(RRType)
    .filter(([k]) => !k.startsWith('PRIVATE_USE'))
    .map(([k, v]) => [v, k] as [number, string]),
);
const TYPE_VALUES: ReadonlyMap<string, number> = new Map(
  [...TYPE_NAMES].map(([v, k]) => [k, v] as [string, number]),
);
const CLASS_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(RRClass).map(([k, v]) => [v, k] as [number, string]),
);
const RCODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(Rcode)
    .filter(([k]) => k !== 'BADSIG')
    .map(([k, v]) => [v, k] as [number, string]),
);

/** `A`, `NAPTR`, ..., or `TYPE65280` for types without a mnemonic. */
export function typeToString(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}

/** Accepts mnemonics (any case) and `TYPEnnn`. */
export function typeFromString(text: string): number {
  const upper = text.toUpperCase();
  const known = TYPE_VALUES.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE([0-9]{1,5})$/.exec(upper);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new DnsWireError('bad-value', -1, 'unknown record type mnemonic');
}

export function isTypeMnemonic(text: string): boolean {
  const upper = text.toUpperCase();
  return TYPE_VALUES.has(upper) || /^TYPE[0-9]{1,5}$/.test(upper);
}

export function classToString(cls: number): string {
  return CLASS_NAMES.get(cls) ?? `CLASS${cls}`;
}

export function classFromString(text: string): number | undefined {
  const upper = text.toUpperCase();
  const known = (RRClass as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const m = /^CLASS([0-9]{1,5})$/.exec(upper);
  return m && Number(m[1]) <= 0xffff ? Number(m[1]) : undefined;
}

export function rcodeToString(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
}
