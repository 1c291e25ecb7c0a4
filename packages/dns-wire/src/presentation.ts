// Master-file (zone-file) presentation format, RFC 1035 5.1, RFC 3597 5, and the rdata
// presentation of RFC 3403, RFC 4034, RFC 5155, RFC 8659.
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './addresses.js';
import {
  base32hexDecode,
  base32hexEncode,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
} from './encoding.js';
import { DnsWireError } from './errors.js';
import { decodeRdata, encodeRdata } from './message.js';
import {
  classFromString,
  classToString,
  isTypeMnemonic,
  typeFromString,
  typeToString,
} from './mnemonics.js';
import { normalizeName } from './name.js';
import { RRClass, RRType } from './types.js';
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
} from './types.js';
import { hasTypedCodec } from './rdata/codecs.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A character-string in quotes with RFC 1035 5.1 escapes. */
export function quoteCharString(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c >= 0x7f) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s + '"';
}

function formatTime(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return (
    p(d.getUTCFullYear(), 4) +
    p(d.getUTCMonth() + 1) +
    p(d.getUTCDate()) +
    p(d.getUTCHours()) +
    p(d.getUTCMinutes()) +
    p(d.getUTCSeconds())
  );
}

function formatRdata(rr: ResourceRecord): string {
  const d = rr.data as unknown as Record<string, unknown>;
  if ('raw' in d || !hasTypedCodec(rr.type)) {
    const raw = encodeRdata(rr);
    return raw.length === 0 ? '\\# 0' : `\\# ${raw.length} ${toHex(raw)}`;
  }
  const types = (t: readonly number[]): string => t.map(typeToString).join(' ');
  switch (rr.type) {
    case RRType.A:
    case RRType.AAAA:
      return String(d['address']);
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME:
      return normalizeName(d['target'] as string);
    case RRType.SOA: {
      const s = rr.data as SoaData;
      return `${normalizeName(s.mname)} ${normalizeName(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case RRType.MX:
      return `${String(d['preference'])} ${normalizeName(d['exchange'] as string)}`;
    case RRType.TXT:
      return (d['texts'] as Uint8Array[]).map(quoteCharString).join(' ');
    case RRType.NAPTR: {
      const n = rr.data as NaptrData;
      return `${n.order} ${n.preference} ${quoteCharString(utf8.encode(n.flags))} ${quoteCharString(utf8.encode(n.services))} ${quoteCharString(utf8.encode(n.regexp))} ${normalizeName(n.replacement)}`;
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
      return `${typeToString(s.typeCovered)} ${s.algorithm} ${s.labels} ${s.originalTtl} ${formatTime(s.expiration)} ${formatTime(s.inception)} ${s.keyTag} ${normalizeName(s.signerName)} ${toBase64(s.signature)}`;
    }
    case RRType.NSEC: {
      const s = rr.data as NsecData;
      return `${normalizeName(s.nextDomainName)}${s.types.length ? ' ' + types(s.types) : ''}`;
    }
    case RRType.NSEC3: {
      const s = rr.data as Nsec3Data;
      const salt = s.salt.length ? toHex(s.salt) : '-';
      return `${s.hashAlgorithm} ${s.flags} ${s.iterations} ${salt} ${base32hexEncode(s.nextHashedOwner).toUpperCase()}${s.types.length ? ' ' + types(s.types) : ''}`;
    }
    case RRType.NSEC3PARAM: {
      const s = rr.data as Nsec3ParamData;
      return `${s.hashAlgorithm} ${s.flags} ${s.iterations} ${s.salt.length ? toHex(s.salt) : '-'}`;
    }
    case RRType.TSIG: {
      const s = rr.data as TsigData;
      return `${normalizeName(s.algorithm)} ${s.timeSigned} ${s.fudge} ${s.mac.length} ${toBase64(s.mac)} ${s.originalId} ${s.error} ${s.otherData.length} ${toBase64(s.otherData)}`;
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
  return `${normalizeName(rr.name)}\t${rr.ttl}\t${classToString(rr.class)}\t${typeToString(rr.type)}\t${formatRdata(rr)}`;
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

interface Token {
  readonly text: string;
  readonly quoted: boolean;
}

interface Line {
  readonly tokens: Token[];
  readonly blankOwner: boolean;
  readonly lineNo: number;
}

function syntax(line: number, what: string): never {
  throw new DnsWireError('bad-syntax', line, `zone text line ${line}: ${what}`);
}

function tokenize(text: string): Line[] {
  const lines: Line[] = [];
  let tokens: Token[] = [];
  let depth = 0;
  let lineNo = 1;
  let startLine = 1;
  let blankOwner = false;
  let atLineStart = true;
  let i = 0;
  const flush = (): void => {
    if (tokens.length > 0) lines.push({ tokens, blankOwner, lineNo: startLine });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (atLineStart && depth === 0) {
      blankOwner = c === ' ' || c === '\t';
      startLine = lineNo;
      atLineStart = false;
    }
    if (c === '\n') {
      lineNo++;
      i++;
      if (depth === 0) {
        flush();
        atLineStart = true;
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) syntax(lineNo, 'unbalanced )');
      depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          s += text.slice(i, i + 2);
          i += 2;
          continue;
        }
        if (text[i] === '\n') lineNo++;
        s += text[i];
        i++;
      }
      if (i >= text.length) syntax(lineNo, 'unterminated quoted string');
      i++;
      tokens.push({ text: s, quoted: true });
      continue;
    }
    let s = '';
    while (i < text.length) {
      const d = text[i] as string;
      if (d === '\\' && i + 1 < text.length) {
        s += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (' \t\r\n;()"'.includes(d)) break;
      s += d;
      i++;
    }
    tokens.push({ text: s, quoted: false });
  }
  if (depth !== 0) syntax(lineNo, 'unbalanced (');
  flush();
  return lines;
}

/** Decodes the escapes of a character-string token into octets. */
function charStringBytes(text: string, line: number): Uint8Array {
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

function isAbsolute(name: string): boolean {
  if (!name.endsWith('.')) return false;
  let backslashes = 0;
  for (let i = name.length - 2; i >= 0 && name[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

function resolveName(text: string, origin: DomainName, line: number): DomainName {
  try {
    if (text === '@') return normalizeName(origin);
    if (isAbsolute(text)) return normalizeName(text);
    return normalizeName(origin === '.' ? text + '.' : `${text}.${origin}`);
  } catch (err) {
    if (DnsWireError.is(err)) syntax(line, `bad domain name (${err.message})`);
    throw err;
  }
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function parseTtl(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const v = Number(text);
    return v <= 0xffffffff ? v : undefined;
  }
  const m = /^([0-9]+[smhdwSMHDW])+$/.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (const part of text.matchAll(/([0-9]+)([smhdwSMHDW])/g))
    total += Number(part[1]) * (TTL_UNITS[(part[2] as string).toLowerCase()] as number);
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

const ALGORITHM_MNEMONICS: Record<string, number> = {
  RSASHA1: 5,
  RSASHA256: 8,
  RSASHA512: 10,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
};

class RdataTokens {
  readonly #tokens: readonly Token[];
  #i = 0;
  readonly line: number;
  readonly origin: DomainName;

  constructor(tokens: readonly Token[], line: number, origin: DomainName) {
    this.#tokens = tokens;
    this.line = line;
    this.origin = origin;
  }
  next(what: string): Token {
    const t = this.#tokens[this.#i++];
    if (!t) syntax(this.line, `missing ${what}`);
    return t;
  }
  text(what: string): string {
    return this.next(what).text;
  }
  int(what: string, max: number): number {
    const t = this.text(what);
    if (!/^[0-9]+$/.test(t) || Number(t) > max) syntax(this.line, `bad ${what}`);
    return Number(t);
  }
  algorithm(): number {
    const t = this.text('algorithm');
    const m = ALGORITHM_MNEMONICS[t.toUpperCase()];
    if (m !== undefined) return m;
    if (!/^[0-9]+$/.test(t) || Number(t) > 255) syntax(this.line, 'bad algorithm');
    return Number(t);
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
  rest(): string[] {
    const out = this.#tokens.slice(this.#i).map((t) => t.text);
    this.#i = this.#tokens.length;
    return out;
  }
  hasMore(): boolean {
    return this.#i < this.#tokens.length;
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
  tokens: readonly Token[],
  line: number,
  origin: DomainName,
): ResourceRecord['data'] {
  const t = new RdataTokens(tokens, line, origin);
  const first = tokens[0];
  if (first && !first.quoted && first.text === '\\#') {
    t.next('\\#');
    const len = t.int('rdata length', 0xffff);
    const raw = guard(line, () => fromHex(t.rest().join('')));
    if (raw.length !== len) syntax(line, 'RFC 3597 rdata length does not match');
    if (!hasTypedCodec(type)) return { raw };
    return guard(line, () => decodeRdata(type, raw, 0, raw.length));
  }
  if (!hasTypedCodec(type)) syntax(line, 'unknown type needs RFC 3597 \\# rdata');
  return parseTypedRdata(type, t, tokens);
}

function parseTypedRdata(
  type: number,
  t: RdataTokens,
  tokens: readonly Token[],
): ResourceRecord['data'] {
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
      const texts = tokens.map((tok) => charStringBytes(tok.text, line));
      if (texts.length === 0) syntax(line, 'TXT needs a string');
      return { texts };
    }
    case RRType.NAPTR:
      data = {
        order: t.int('order', 0xffff),
        preference: t.int('preference', 0xffff),
        flags: utf8Decoder.decode(t.charString('flags')),
        services: utf8Decoder.decode(t.charString('services')),
        regexp: utf8Decoder.decode(t.charString('regexp')),
        replacement: t.name('replacement'),
      };
      break;
    case RRType.DS:
    case RRType.CDS:
      return {
        keyTag: t.int('key tag', 0xffff),
        algorithm: t.algorithm(),
        digestType: t.int('digest type', 255),
        digest: guard(line, () => fromHex(t.rest().join(''))),
      };
    case RRType.DNSKEY:
    case RRType.CDNSKEY:
      return {
        flags: t.int('flags', 0xffff),
        protocol: t.int('protocol', 255),
        algorithm: t.algorithm(),
        publicKey: guard(line, () => fromBase64(t.rest().join(''))),
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
        signature: guard(line, () => fromBase64(t.rest().join(''))),
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
      data = { hashAlgorithm, flags, iterations, salt };
      break;
    }
    case RRType.CAA:
      data = { flags: t.int('flags', 255), tag: t.text('tag'), value: t.charString('value') };
      break;
    case RRType.TSIG: {
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
      data = { algorithm, timeSigned, fudge, mac, originalId, error, otherData };
      break;
    }
    default:
      return syntax(line, 'unsupported type');
  }
  t.done();
  return data;
}

interface ParseState {
  origin: DomainName;
  ttl: number | undefined;
  lastOwner: DomainName | undefined;
  lastTtl: number | undefined;
}

function parseLine(line: Line, state: ParseState, options: ZoneParseOptions): ResourceRecord {
  const toks = line.tokens;
  let i = 0;
  let owner: DomainName;
  if (line.blankOwner) {
    if (state.lastOwner === undefined) syntax(line.lineNo, 'no owner name');
    owner = state.lastOwner;
  } else {
    owner = resolveName((toks[i++] as Token).text, state.origin, line.lineNo);
  }
  let ttl: number | undefined;
  let cls: number | undefined;
  for (let k = 0; k < 2; k++) {
    const tok = toks[i];
    if (!tok || tok.quoted) break;
    const asTtl = ttl === undefined ? parseTtl(tok.text) : undefined;
    // "ANY" is both a class and a type: it is the class when a type follows.
    const next = toks[i + 1];
    const classPosition =
      !isTypeMnemonic(tok.text) || (next !== undefined && isTypeMnemonic(next.text));
    const asClass = cls === undefined && classPosition ? classFromString(tok.text) : undefined;
    if (asTtl !== undefined) ttl = asTtl;
    else if (asClass !== undefined) cls = asClass;
    else break;
    i++;
  }
  const typeTok = toks[i++];
  if (!typeTok) syntax(line.lineNo, 'missing type');
  const type = guard(line.lineNo, () => typeFromString(typeTok.text));
  const data = parseRdata(type, toks.slice(i), line.lineNo, state.origin);
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
 */
export function parseZone(text: string, options: ZoneParseOptions = {}): ResourceRecord[] {
  const state: ParseState = {
    origin: normalizeName(options.origin ?? '.'),
    ttl: undefined,
    lastOwner: undefined,
    lastTtl: undefined,
  };
  const out: ResourceRecord[] = [];
  for (const line of tokenize(text)) {
    const first = (line.tokens[0] as Token).text;
    if (!line.blankOwner && first.startsWith('$')) {
      const arg = line.tokens[1]?.text;
      if (first === '$ORIGIN' && arg) state.origin = resolveName(arg, state.origin, line.lineNo);
      else if (first === '$TTL' && arg && parseTtl(arg) !== undefined) state.ttl = parseTtl(arg);
      else syntax(line.lineNo, `unsupported directive ${first.slice(0, 16)}`);
      continue;
    }
    out.push(parseLine(line, state, options));
  }
  return out;
}

/** Parses exactly one record line (relative names resolve against `options.origin`). */
export function parseRecord(line: string, options: ZoneParseOptions = {}): ResourceRecord {
  const records = parseZone(line, options);
  if (records.length !== 1) syntax(1, 'expected exactly one record');
  return records[0] as ResourceRecord;
}
