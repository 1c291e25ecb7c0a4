// Master-file (zone-file) presentation format, RFC 1035 5.1, RFC 3597 5, and the rdata
// presentation of RFC 3403, RFC 4034, RFC 5155, RFC 8659.
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../values/addresses.js';
import {
  base32hexDecode,
  base32hexEncodeUpper,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
} from '../values/encoding.js';
import { DnsWireError } from '../errors.js';
import { decodeRdata, encodeRdata } from '../wire/message.js';
import {
  classFromString,
  classToString,
  isTypeMnemonic,
  typeFromString,
  typeToString,
} from './mnemonics.js';
import { normalizeName } from '../values/name.js';
import { RRClass, RRType } from '../types.js';
import type {
  CaaData,
  DnskeyData,
  DomainName,
  DsData,
  NaptrData,
  Nsec3Data,
  Nsec3ParamData,
  NsecData,
  ResourceRecord,
  RrsigData,
  SoaData,
  TsigData,
  TxtData,
  ZoneParseOptions,
} from '../types.js';
import { hasTypedCodec } from '../wire/rdata-codecs.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A character-string in quotes with RFC 1035 5.1 escapes. */
export function quoteCharString(b: Uint8Array): string {
  let plain = true;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
  }
  // At most 255 octets in a character-string; longer input takes the loop below.
  if (plain && b.length <= 255)
    return `"${String.fromCharCode.apply(null, b as unknown as number[])}"`;
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c >= 0x7f) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s + '"';
}

/** A UTF-8 string as a quoted character-string (NAPTR fields). */
function quoteText(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c)
      return quoteCharString(utf8.encode(text));
  }
  return `"${text}"`;
}

/** The last two times formatted: a signed zone's RRSIGs share one inception and one expiration. */
const timeCache: [number, string, number, string] = [-1, '', -1, ''];

/** `YYYYMMDDHHmmSS` (UTC) of seconds since the epoch, cached for the last two values. */
function formatTime(t: number): string {
  if (t === timeCache[0]) return timeCache[1];
  if (t === timeCache[2]) return timeCache[3];
  const text = civilTime(t);
  timeCache[2] = timeCache[0];
  timeCache[3] = timeCache[1];
  timeCache[0] = t;
  timeCache[1] = text;
  return text;
}

/** `YYYYMMDDHHmmSS` (UTC) of seconds since the epoch, by civil-date arithmetic (no Date object). */
function civilTime(t: number): string {
  const days = Math.floor(t / 86400);
  let rest = t - days * 86400;
  const hh = Math.floor(rest / 3600);
  rest -= hh * 3600;
  const mm = Math.floor(rest / 60);
  const ss = rest - mm * 60;
  // Days to a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level date algorithms").
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}${two(m)}${two(d)}${two(hh)}${two(mm)}${two(ss)}`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Type mnemonics separated by spaces (NSEC, NSEC3 type bitmaps). */
function types(list: readonly number[]): string {
  let out = '';
  for (let i = 0; i < list.length; i++) out += (i ? ' ' : '') + typeToString(list[i] as number);
  return out;
}

function formatRdata(rr: ResourceRecord): string {
  const d = rr.data as unknown as Record<string, unknown>;
  if ('raw' in d || !hasTypedCodec(rr.type)) {
    const raw = encodeRdata(rr);
    return raw.length === 0 ? '\\# 0' : `\\# ${raw.length} ${toHex(raw)}`;
  }
  switch (rr.type) {
    case RRType.A:
    case RRType.AAAA:
      return String(d['address']);
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME:
      return presentationName(d['target'] as string);
    case RRType.SOA: {
      const s = rr.data as SoaData;
      return `${presentationName(s.mname)} ${presentationName(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case RRType.MX:
      return `${String(d['preference'])} ${presentationName(d['exchange'] as string)}`;
    case RRType.TXT:
      return (d['texts'] as Uint8Array[]).map(quoteCharString).join(' ');
    case RRType.NAPTR: {
      const n = rr.data as NaptrData;
      return `${n.order} ${n.preference} ${quoteText(n.flags)} ${quoteText(n.services)} ${quoteText(n.regexp)} ${presentationName(n.replacement)}`;
    }
    case RRType.DS:
    case RRType.CDS: {
      const s = rr.data as DsData;
      return `${s.keyTag} ${s.algorithm} ${s.digestType} ${toHex(s.digest)}`;
    }
    case RRType.DNSKEY:
    case RRType.CDNSKEY: {
      const k = rr.data as DnskeyData;
      return `${k.flags} ${k.protocol} ${k.algorithm} ${toBase64(k.publicKey)}`;
    }
    case RRType.RRSIG: {
      const s = rr.data as RrsigData;
      return `${typeToString(s.typeCovered)} ${s.algorithm} ${s.labels} ${s.originalTtl} ${formatTime(s.expiration)} ${formatTime(s.inception)} ${s.keyTag} ${presentationName(s.signerName)} ${toBase64(s.signature)}`;
    }
    case RRType.NSEC: {
      const s = rr.data as NsecData;
      return `${presentationName(s.nextDomainName)}${s.types.length ? ' ' + types(s.types) : ''}`;
    }
    case RRType.NSEC3: {
      const s = rr.data as Nsec3Data;
      const salt = s.salt.length ? toHex(s.salt) : '-';
      return `${s.hashAlgorithm} ${s.flags} ${s.iterations} ${salt} ${base32hexEncodeUpper(s.nextHashedOwner)}${s.types.length ? ' ' + types(s.types) : ''}`;
    }
    case RRType.NSEC3PARAM: {
      const s = rr.data as Nsec3ParamData;
      return `${s.hashAlgorithm} ${s.flags} ${s.iterations} ${s.salt.length ? toHex(s.salt) : '-'}`;
    }
    case RRType.TSIG: {
      const s = rr.data as TsigData;
      return `${presentationName(s.algorithm)} ${s.timeSigned} ${s.fudge} ${s.mac.length} ${toBase64(s.mac)} ${s.originalId} ${s.error} ${s.otherData.length} ${toBase64(s.otherData)}`;
    }
    case RRType.CAA: {
      const s = rr.data as CaaData;
      return `${s.flags} ${s.tag} ${quoteCharString(s.value)}`;
    }
    default: {
      const raw = encodeRdata(rr);
      return `\\# ${raw.length} ${toHex(raw)}`;
    }
  }
}

/** One record as a master-file line: `owner TTL CLASS TYPE rdata` (tab separated). */
export function formatRecord(rr: ResourceRecord): string {
  return `${presentationName(rr.name)}\t${rr.ttl}\t${classToString(rr.class)}\t${typeToString(rr.type)}\t${formatRdata(rr)}`;
}

/** TXT rdata from UTF-8 strings (split into <= 255-octet character-strings). */
export function txtData(...texts: string[]): TxtData {
  const out: Uint8Array[] = [];
  for (const t of texts) {
    const b = utf8.encode(t);
    if (b.length === 0) out.push(b);
    for (let i = 0; i < b.length; i += 255) out.push(b.slice(i, i + 255));
  }
  return { texts: out.length ? out : [new Uint8Array(0)] };
}

// ---- Parsing ----

/**
 * The tokens of one entry (one line, or several joined by parentheses), reused from entry to
 * entry. A token is the exact source text (escapes still in it; quotes removed), so it is a
 * slice of the input.
 */
interface Tokens {
  readonly text: string[];
  readonly quoted: boolean[];
  count: number;
}

function syntax(line: number, what: string): never {
  throw new DnsWireError('bad-syntax', line, `zone text line ${line}: ${what}`);
}

/** Characters that end an unquoted token: space, tab, CR, LF, `;`, `(`, `)`, `"`. */
const DELIMITER = new Uint8Array(128);
for (const c of ' \t\r\n;()"') DELIMITER[c.charCodeAt(0)] = 1;

/**
 * Splits master-file text into entries and hands each one (its tokens, whether its owner is
 * blank, its first line) to `entry`, in order, in one pass over the text.
 */
function forEachEntry(
  text: string,
  entry: (tokens: Tokens, blankOwner: boolean, line: number) => void,
): void {
  const tokens: Tokens = { text: [], quoted: [], count: 0 };
  const n = text.length;
  let depth = 0;
  let lineNo = 1;
  let startLine = 1;
  let blankOwner = false;
  let atLineStart = true;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (atLineStart && depth === 0) {
      blankOwner = c === 0x20 || c === 0x09;
      startLine = lineNo;
      atLineStart = false;
    }
    switch (c) {
      case 0x0a: // \n
        lineNo++;
        i++;
        if (depth === 0) {
          if (tokens.count > 0) entry(tokens, blankOwner, startLine);
          tokens.count = 0;
          atLineStart = true;
        }
        continue;
      case 0x20:
      case 0x09:
      case 0x0d:
        i++;
        continue;
      case 0x3b: {
        // ; comment to the end of the line
        const eol = text.indexOf('\n', i);
        i = eol < 0 ? n : eol;
        continue;
      }
      case 0x28: // (
        depth++;
        i++;
        continue;
      case 0x29: // )
        if (depth === 0) syntax(lineNo, 'unbalanced )');
        depth--;
        i++;
        continue;
      case 0x22: {
        // "quoted", escapes kept as written
        const start = ++i;
        i = quotedEnd(text, start);
        lineNo += newlinesIn(text, start, i);
        if (i >= n) syntax(lineNo, 'unterminated quoted string');
        pushToken(tokens, text.slice(start, i), true);
        i++;
        continue;
      }
      default: {
        const start = i;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === 0x5c && i + 1 < n) {
            if (text.charCodeAt(i + 1) === 0x0a) lineNo++;
            i += 2;
            continue;
          }
          if (d < 0x80 && DELIMITER[d] === 1) break;
          i++;
        }
        pushToken(tokens, text.slice(start, i), false);
      }
    }
  }
  if (depth !== 0) syntax(lineNo, 'unbalanced (');
  if (tokens.count > 0) entry(tokens, blankOwner, startLine);
}

function pushToken(tokens: Tokens, t: string, quoted: boolean): void {
  tokens.text[tokens.count] = t;
  tokens.quoted[tokens.count] = quoted;
  tokens.count++;
}

/** Where a quoted string whose content starts at `start` ends: its closing quote, or the text's end. */
function quotedEnd(text: string, start: number): number {
  const n = text.length;
  let i = start;
  while (i < n) {
    const d = text.charCodeAt(i);
    if (d === 0x22) break;
    i += d === 0x5c && i + 1 < n ? 2 : 1;
  }
  return i;
}

/** Line feeds in `text` from `start` to `end`. */
function newlinesIn(text: string, start: number, end: number): number {
  let count = 0;
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 0x0a) count++;
  return count;
}

/** True if every UTF-16 unit is ASCII and none is a backslash (no escapes to decode). */
function isPlainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80 || c === 0x5c) return false;
  }
  return true;
}

/** Decodes the escapes of a character-string token into octets. */
function charStringBytes(text: string, line: number): Uint8Array {
  if (isPlainAscii(text)) {
    if (text.length > 255) syntax(line, 'character-string over 255 octets');
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }
  const out: number[] = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === '\\') {
      const ddd = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(ddd)) {
        if (Number(ddd) > 255) syntax(line, 'escape above 255');
        out.push(Number(ddd));
        i += 4;
        continue;
      }
      const cp = text.codePointAt(i + 1);
      if (cp === undefined) syntax(line, 'dangling backslash');
      for (const b of utf8.encode(String.fromCodePoint(cp))) out.push(b);
      i += cp > 0xffff ? 3 : 2;
      continue;
    }
    const cp = text.codePointAt(i) as number;
    for (const b of utf8.encode(String.fromCodePoint(cp))) out.push(b);
    i += cp > 0xffff ? 2 : 1;
  }
  if (out.length > 255) syntax(line, 'character-string over 255 octets');
  return Uint8Array.from(out);
}

/** A character-string token as a UTF-8 string (NAPTR fields). */
function charStringText(text: string, line: number): string {
  if (isPlainAscii(text)) {
    if (text.length > 255) syntax(line, 'character-string over 255 octets');
    return text;
  }
  return utf8Decoder.decode(charStringBytes(text, line));
}

function isAbsolute(name: string): boolean {
  if (!name.endsWith('.')) return false;
  let backslashes = 0;
  for (let i = name.length - 2; i >= 0 && name[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

/**
 * True if `name` is absolute and already in the form `normalizeName` gives: printable ASCII
 * without escapes or characters it would escape, labels of 1..63 octets, <= 255 octets in
 * wire form. Such a name is its own normal form; anything else goes through `normalizeName`.
 */
function isNormalAbsolute(name: string): boolean {
  const n = name.length;
  if (n === 1) return name === '.';
  if (n === 0 || n > 254) return false;
  let label = 0;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return false;
      label = 0;
      continue;
    }
    if (c < 0x21 || c > 0x7e || NAME_ESCAPED[c] === 1 || ++label > 63) return false;
  }
  return label === 0;
}

/** Printable ASCII that the presentation form of a label escapes: `\ " ( ) ; @ $`. */
const NAME_ESCAPED = new Uint8Array(128);
for (const c of '\\"();@$') NAME_ESCAPED[c.charCodeAt(0)] = 1;

/** `normalizeName` with a shortcut for names already in normal form. */
function presentationName(name: DomainName): DomainName {
  return isNormalAbsolute(name) ? name : normalizeName(name);
}

/** Resolves a name token against `origin` (which is already normalized). */
function resolveName(text: string, origin: DomainName, line: number): DomainName {
  if (text === '@') return origin;
  const full = isAbsolute(text) ? text : origin === '.' ? text + '.' : `${text}.${origin}`;
  if (isNormalAbsolute(full)) return full;
  try {
    return normalizeName(full);
  } catch (err) {
    if (DnsWireError.is(err)) syntax(line, `bad domain name (${err.message})`);
    throw err;
  }
}

/** The value of a non-empty run of ASCII digits, or -1 (for anything else). */
function digitsValue(text: string): number {
  const n = text.length;
  if (n === 0) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Seconds per TTL unit letter (either case), by character code. */
const TTL_UNIT = new Map<number, number>();
for (const [u, v] of [
  ['s', 1],
  ['m', 60],
  ['h', 3600],
  ['d', 86400],
  ['w', 604800],
] as const) {
  TTL_UNIT.set(u.charCodeAt(0), v);
  TTL_UNIT.set(u.toUpperCase().charCodeAt(0), v);
}

/** `3600`, or units: `1h30m`, `2W` (every number followed by a unit). */
function parseTtl(text: string): number | undefined {
  const plain = digitsValue(text);
  if (plain >= 0) return plain <= 0xffffffff ? plain : undefined;
  let total = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      digits++;
      continue;
    }
    const unit = TTL_UNIT.get(c);
    if (unit === undefined || digits === 0) return undefined;
    total += value * unit;
    value = 0;
    digits = 0;
  }
  if (digits > 0 || text.length === 0) return undefined;
  return total <= 0xffffffff ? total : undefined;
}

function parseRrsigTime(text: string, line: number): number {
  if (/^[0-9]{14}$/.test(text)) {
    const ms = Date.UTC(
      Number(text.slice(0, 4)),
      Number(text.slice(4, 6)) - 1,
      Number(text.slice(6, 8)),
      Number(text.slice(8, 10)),
      Number(text.slice(10, 12)),
      Number(text.slice(12, 14)),
    );
    return (ms / 1000) >>> 0;
  }
  if (/^[0-9]{1,10}$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  return syntax(line, 'bad RRSIG time');
}

const ALGORITHM_MNEMONICS: ReadonlyMap<string, number> = new Map([
  ['RSASHA1', 5],
  ['RSASHA256', 8],
  ['RSASHA512', 10],
  ['ECDSAP256SHA256', 13],
  ['ECDSAP384SHA384', 14],
  ['ED25519', 15],
  ['ED448', 16],
]);

/** The rdata tokens of one entry: `tokens.text[from..tokens.count)`. */
class RdataTokens {
  readonly #tokens: Tokens;
  #i: number;
  readonly line: number;
  readonly origin: DomainName;

  constructor(tokens: Tokens, from: number, line: number, origin: DomainName) {
    this.#tokens = tokens;
    this.#i = from;
    this.line = line;
    this.origin = origin;
  }
  text(what: string): string {
    if (this.#i >= this.#tokens.count) syntax(this.line, `missing ${what}`);
    return this.#tokens.text[this.#i++] as string;
  }
  int(what: string, max: number): number {
    const v = digitsValue(this.text(what));
    if (v < 0 || v > max) syntax(this.line, `bad ${what}`);
    return v;
  }
  algorithm(): number {
    const t = this.text('algorithm');
    const m = ALGORITHM_MNEMONICS.get(t.toUpperCase());
    if (m !== undefined) return m;
    const v = digitsValue(t);
    if (v < 0 || v > 255) syntax(this.line, 'bad algorithm');
    return v;
  }
  ttlValue(what: string): number {
    const v = parseTtl(this.text(what));
    if (v === undefined) syntax(this.line, `bad ${what}`);
    return v;
  }
  name(what: string): DomainName {
    return resolveName(this.text(what), this.origin, this.line);
  }
  charString(what: string): Uint8Array {
    return charStringBytes(this.text(what), this.line);
  }
  charStringText(what: string): string {
    return charStringText(this.text(what), this.line);
  }
  /** The remaining tokens, all consumed. */
  rest(): string[] {
    const out = this.#tokens.text.slice(this.#i, this.#tokens.count);
    this.#i = this.#tokens.count;
    return out;
  }
  /** The remaining tokens joined (base64/hex split over several tokens), all consumed. */
  joinedRest(): string {
    const n = this.#tokens.count - this.#i;
    const out = n === 1 ? (this.#tokens.text[this.#i] as string) : this.rest().join('');
    this.#i = this.#tokens.count;
    return out;
  }
  hasMore(): boolean {
    return this.#i < this.#tokens.count;
  }
  done(): void {
    if (this.hasMore()) syntax(this.line, 'unexpected extra rdata');
  }
}

function guard<T>(line: number, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (DnsWireError.is(err) && err.code !== 'bad-syntax') syntax(line, err.message);
    throw err;
  }
}

function parseTypes(t: RdataTokens): number[] {
  return t.rest().map((s) => guard(t.line, () => typeFromString(s)));
}

function parseRdata(
  type: number,
  tokens: Tokens,
  from: number,
  line: number,
  origin: DomainName,
): ResourceRecord['data'] {
  const t = new RdataTokens(tokens, from, line, origin);
  if (from < tokens.count && tokens.quoted[from] === false && tokens.text[from] === '\\#') {
    t.text('\\#');
    const len = t.int('rdata length', 0xffff);
    const raw = guard(line, () => fromHex(t.joinedRest()));
    if (raw.length !== len) syntax(line, 'RFC 3597 rdata length does not match');
    if (!hasTypedCodec(type)) return { raw };
    return guard(line, () => decodeRdata(type, raw, 0, raw.length));
  }
  if (!hasTypedCodec(type)) syntax(line, 'unknown type needs RFC 3597 \\# rdata');
  return parseTypedRdata(type, t);
}

function parseTypedRdata(type: number, t: RdataTokens): ResourceRecord['data'] {
  const line = t.line;
  let data: ResourceRecord['data'];
  switch (type) {
    case RRType.A:
      data = { address: guard(line, () => formatIpv4(parseIpv4(t.text('address')))) };
      break;
    case RRType.AAAA:
      data = { address: guard(line, () => formatIpv6(parseIpv6(t.text('address')))) };
      break;
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME:
      data = { target: t.name('target') };
      break;
    case RRType.SOA:
      data = {
        mname: t.name('mname'),
        rname: t.name('rname'),
        serial: t.int('serial', 0xffffffff),
        refresh: t.ttlValue('refresh'),
        retry: t.ttlValue('retry'),
        expire: t.ttlValue('expire'),
        minimum: t.ttlValue('minimum'),
      };
      break;
    case RRType.MX:
      data = { preference: t.int('preference', 0xffff), exchange: t.name('exchange') };
      break;
    case RRType.TXT: {
      const texts = t.rest().map((tok) => charStringBytes(tok, line));
      if (texts.length === 0) syntax(line, 'TXT needs a string');
      return { texts };
    }
    case RRType.NAPTR:
      data = {
        order: t.int('order', 0xffff),
        preference: t.int('preference', 0xffff),
        flags: t.charStringText('flags'),
        services: t.charStringText('services'),
        regexp: t.charStringText('regexp'),
        replacement: t.name('replacement'),
      };
      break;
    case RRType.DS:
    case RRType.CDS:
    case RRType.DNSKEY:
    case RRType.CDNSKEY:
    case RRType.RRSIG:
    case RRType.NSEC:
    case RRType.NSEC3:
    case RRType.NSEC3PARAM:
      return parseDnssecRdata(type, t);
    case RRType.CAA:
      data = { flags: t.int('flags', 255), tag: t.text('tag'), value: t.charString('value') };
      break;
    case RRType.TSIG:
      data = parseTsigRdata(t);
      break;
    default:
      return syntax(line, 'unsupported type');
  }
  t.done();
  return data;
}

/** The rdata of the DNSSEC types (DS, DNSKEY and their child copies, RRSIG, NSEC, NSEC3, NSEC3PARAM). */
function parseDnssecRdata(type: number, t: RdataTokens): ResourceRecord['data'] {
  const line = t.line;
  switch (type) {
    case RRType.DS:
    case RRType.CDS:
      return {
        keyTag: t.int('key tag', 0xffff),
        algorithm: t.algorithm(),
        digestType: t.int('digest type', 255),
        digest: guard(line, () => fromHex(t.joinedRest())),
      };
    case RRType.DNSKEY:
    case RRType.CDNSKEY:
      return {
        flags: t.int('flags', 0xffff),
        protocol: t.int('protocol', 255),
        algorithm: t.algorithm(),
        publicKey: guard(line, () => fromBase64(t.joinedRest())),
      };
    case RRType.RRSIG:
      return {
        typeCovered: guard(line, () => typeFromString(t.text('type covered'))),
        algorithm: t.algorithm(),
        labels: t.int('labels', 255),
        originalTtl: t.int('original TTL', 0xffffffff),
        expiration: parseRrsigTime(t.text('expiration'), line),
        inception: parseRrsigTime(t.text('inception'), line),
        keyTag: t.int('key tag', 0xffff),
        signerName: t.name('signer'),
        signature: guard(line, () => fromBase64(t.joinedRest())),
      };
    case RRType.NSEC:
      return { nextDomainName: t.name('next domain name'), types: parseTypes(t) };
    case RRType.NSEC3: {
      const hashAlgorithm = t.int('hash algorithm', 255);
      const flags = t.int('flags', 255);
      const iterations = t.int('iterations', 0xffff);
      const saltText = t.text('salt');
      const salt = saltText === '-' ? new Uint8Array(0) : guard(line, () => fromHex(saltText));
      const nextHashedOwner = guard(line, () => base32hexDecode(t.text('next hashed owner')));
      return { hashAlgorithm, flags, iterations, salt, nextHashedOwner, types: parseTypes(t) };
    }
    case RRType.NSEC3PARAM: {
      const hashAlgorithm = t.int('hash algorithm', 255);
      const flags = t.int('flags', 255);
      const iterations = t.int('iterations', 0xffff);
      const saltText = t.text('salt');
      const salt = saltText === '-' ? new Uint8Array(0) : guard(line, () => fromHex(saltText));
      t.done();
      return { hashAlgorithm, flags, iterations, salt };
    }
    default:
      return syntax(line, 'unsupported type');
  }
}

/** TSIG rdata (RFC 8945 4.2), field by field. */
function parseTsigRdata(t: RdataTokens): ResourceRecord['data'] {
  const line = t.line;
  const algorithm = t.name('algorithm');
  const timeSigned = t.int('time signed', 0xffffffffffff);
  const fudge = t.int('fudge', 0xffff);
  t.int('mac size', 0xffff);
  const mac = guard(line, () => fromBase64(t.text('mac')));
  const originalId = t.int('original id', 0xffff);
  const error = t.int('error', 0xffff);
  const otherLen = t.int('other length', 0xffff);
  const otherData = otherLen
    ? guard(line, () => fromBase64(t.text('other data')))
    : new Uint8Array(0);
  return { algorithm, timeSigned, fudge, mac, originalId, error, otherData };
}

interface ParseState {
  origin: DomainName;
  ttl: number | undefined;
  lastOwner: DomainName | undefined;
  lastTtl: number | undefined;
  /** The owner token last resolved, and against which origin: consecutive records share it. */
  lastOwnerText: string | undefined;
  lastOwnerOrigin: DomainName | undefined;
}

function parseEntry(
  toks: Tokens,
  blankOwner: boolean,
  lineNo: number,
  state: ParseState,
  options: ZoneParseOptions,
): ResourceRecord {
  let i = 0;
  let owner: DomainName;
  if (blankOwner) {
    if (state.lastOwner === undefined) syntax(lineNo, 'no owner name');
    owner = state.lastOwner;
  } else {
    const text = toks.text[i++] as string;
    if (
      text === state.lastOwnerText &&
      state.origin === state.lastOwnerOrigin &&
      state.lastOwner !== undefined
    ) {
      owner = state.lastOwner;
    } else {
      owner = resolveName(text, state.origin, lineNo);
      state.lastOwnerText = text;
      state.lastOwnerOrigin = state.origin;
    }
  }
  let ttl: number | undefined;
  let cls: number | undefined;
  for (let k = 0; k < 2 && i < toks.count; k++) {
    if (toks.quoted[i]) break;
    const text = toks.text[i] as string;
    const asTtl = ttl === undefined ? parseTtl(text) : undefined;
    if (asTtl !== undefined) ttl = asTtl;
    else {
      // "ANY" is both a class and a type: it is the class when a type follows.
      const next = i + 1 < toks.count ? toks.text[i + 1] : undefined;
      const classPosition = !isTypeMnemonic(text) || (next !== undefined && isTypeMnemonic(next));
      const asClass = cls === undefined && classPosition ? classFromString(text) : undefined;
      if (asClass !== undefined) cls = asClass;
      else break;
    }
    i++;
  }
  if (i >= toks.count) syntax(lineNo, 'missing type');
  const typeText = toks.text[i++] as string;
  const type = guard(lineNo, () => typeFromString(typeText));
  const data = parseRdata(type, toks, i, lineNo, state.origin);
  const finalTtl = ttl ?? state.ttl ?? state.lastTtl ?? options.defaultTtl ?? 3600;
  state.lastOwner = owner;
  state.lastTtl = finalTtl;
  return {
    name: owner,
    type,
    class: cls ?? options.defaultClass ?? RRClass.IN,
    ttl: finalTtl,
    data,
  } as ResourceRecord;
}

/**
 * Parses master-file text: `$ORIGIN`, `$TTL`, `@`, relative names, omitted owners, parentheses,
 * comments, TTL units, RFC 3597 `\#` rdata. `$INCLUDE` and `$GENERATE` are refused. Also reads
 * the record lines of `dig` output (comments are skipped). Errors carry the line in `offset`.
 * One pass over the text, linear in its length.
 */
export function parseZone(text: string, options: ZoneParseOptions = {}): ResourceRecord[] {
  const state: ParseState = {
    origin: normalizeName(options.origin ?? '.'),
    ttl: undefined,
    lastOwner: undefined,
    lastTtl: undefined,
    lastOwnerText: undefined,
    lastOwnerOrigin: undefined,
  };
  const out: ResourceRecord[] = [];
  forEachEntry(text, (toks, blankOwner, lineNo) => {
    const first = toks.text[0] as string;
    if (!blankOwner && first.startsWith('$')) {
      const arg = toks.count > 1 ? toks.text[1] : undefined;
      if (first === '$ORIGIN' && arg) state.origin = resolveName(arg, state.origin, lineNo);
      else if (first === '$TTL' && arg && parseTtl(arg) !== undefined) state.ttl = parseTtl(arg);
      else syntax(lineNo, `unsupported directive ${first.slice(0, 16)}`);
      return;
    }
    out.push(parseEntry(toks, blankOwner, lineNo, state, options));
  });
  return out;
}

/** Parses exactly one record line (relative names resolve against `options.origin`). */
export function parseRecord(line: string, options: ZoneParseOptions = {}): ResourceRecord {
  const records = parseZone(line, options);
  if (records.length !== 1) syntax(1, 'expected exactly one record');
  return records[0] as ResourceRecord;
}
