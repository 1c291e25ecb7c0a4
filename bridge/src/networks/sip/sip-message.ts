/**
 * SIP messages (RFC 3261 §7) as the bridge reads and writes them over WebSocket (RFC 7118,
 * one message per frame): a lean parser with bounds, and writers. Only what the bridge needs
 * is interpreted (start line, header values by name, name-addr URI and parameters, CSeq, the
 * top Via's branch); everything else is carried as text.
 */

/** Longest SIP message taken (characters): a fragment is at most 64 Ki plus headers. */
export const MAX_MESSAGE_CHARS = 1024 * 1024;
/** Longest header field (after unfolding). */
export const MAX_HEADER_CHARS = 8192;
/** Most header fields in one message. */
export const MAX_HEADERS = 128;

/** A message that is not SIP, or is outside the bounds above. `reason` never holds input. */
export class SipParseError extends Error {
  override readonly name = 'SipParseError';
}

/** Header fields by lowercased long name, each name's values in the order they came. */
export class SipHeaders {
  readonly #fields = new Map<string, string[]>();

  add(name: string, value: string): void {
    const key = longName(name);
    const values = this.#fields.get(key);
    if (values) values.push(value);
    else this.#fields.set(key, [value]);
  }

  /** The first value of `name` (any case, compact form too), or undefined. */
  get(name: string): string | undefined {
    return this.#fields.get(longName(name))?.[0];
  }

  /** Every value of `name`, in order. */
  all(name: string): readonly string[] {
    return this.#fields.get(longName(name)) ?? [];
  }
}

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly headers: SipHeaders;
  readonly body: string;
  /** Call-ID, CSeq number and the top Via's branch (checked present by the parser). */
  readonly callId: string;
  readonly cseq: number;
  readonly branch: string;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeaders;
  readonly body: string;
  readonly callId: string;
  readonly cseq: number;
  /** The CSeq method: with the branch, what a response is matched on (RFC 3261 §17.1.3). */
  readonly cseqMethod: string;
  readonly branch: string;
}

export type SipMessage = SipRequest | SipResponse;

const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
};

function longName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/;
const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d) ([^\r\n]*)$/;
/** Control characters other than tab, anywhere in the head. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Parses one SIP message; throws {@link SipParseError}. */
export function parseSipMessage(text: string): SipMessage {
  if (text.length > MAX_MESSAGE_CHARS) throw new SipParseError('message too long');
  // RFC 3261 §7.5: CRLFs before the start line are ignored (keepalives are just that).
  const start = text.search(/[^\r\n]/);
  if (start < 0) throw new SipParseError('empty message');
  let end = text.indexOf('\r\n\r\n', start);
  let sep = 4;
  if (end < 0) {
    end = text.indexOf('\n\n', start);
    sep = 2;
  }
  if (end < 0) throw new SipParseError('no end of header');
  const lines = text.slice(start, end).split(/\r?\n/);
  const headers = readHeaders(lines);
  const body = bodyOf(text.slice(end + sep), headers);
  const first = lines[0]!;
  const cseq = readCSeq(headers);
  const callId = required(headers, 'call-id');
  const branch = topBranch(headers);
  const status = STATUS_LINE.exec(first);
  if (status) {
    return {
      kind: 'response',
      status: Number(status[1]),
      reason: status[2]!,
      headers,
      body,
      callId,
      cseq: cseq.seq,
      cseqMethod: cseq.method,
      branch,
    };
  }
  const request = REQUEST_LINE.exec(first);
  if (!request) throw new SipParseError('bad start line');
  const method = request[1]!.toUpperCase();
  if (cseq.method !== method && method !== 'ACK' && method !== 'CANCEL') {
    throw new SipParseError('CSeq method differs from the request method');
  }
  return {
    kind: 'request',
    method,
    uri: request[2]!,
    headers,
    body,
    callId,
    cseq: cseq.seq,
    branch,
  };
}

/** Header lines (after the start line) into fields, unfolding continuation lines. */
function readHeaders(lines: readonly string[]): SipHeaders {
  const headers = new SipHeaders();
  let name = '';
  let value = '';
  let count = 0;
  const flush = (): void => {
    if (!name) return;
    if (++count > MAX_HEADERS) throw new SipParseError('too many header fields');
    headers.add(name, value.trim());
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (CONTROL.test(line)) throw new SipParseError('control character in header');
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!name) throw new SipParseError('continuation without a header');
      value += ` ${line.trim()}`;
    } else {
      flush();
      const colon = line.indexOf(':');
      name = colon > 0 ? line.slice(0, colon).trim() : '';
      if (!TOKEN.test(name)) throw new SipParseError('bad header name');
      value = line.slice(colon + 1);
    }
    if (value.length > MAX_HEADER_CHARS) throw new SipParseError('header field too long');
  }
  flush();
  return headers;
}

/** The body: as long as Content-Length says (in UTF-8 bytes) when there is one. */
function bodyOf(rest: string, headers: SipHeaders): string {
  const declared = headers.get('content-length');
  if (declared === undefined) return rest;
  if (!/^\d{1,9}$/.test(declared)) throw new SipParseError('bad Content-Length');
  const length = Number(declared);
  if (rest.length === length && Buffer.byteLength(rest, 'utf8') === length) return rest;
  const bytes = Buffer.from(rest, 'utf8');
  if (bytes.length < length) throw new SipParseError('body shorter than Content-Length');
  return bytes.subarray(0, length).toString('utf8');
}

function required(headers: SipHeaders, name: string): string {
  const value = headers.get(name);
  if (!value) throw new SipParseError(`missing ${name} header`);
  return value;
}

function readCSeq(headers: SipHeaders): { readonly seq: number; readonly method: string } {
  const m = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(required(headers, 'cseq'));
  const seq = m ? Number(m[1]) : NaN;
  if (!m || seq > 2 ** 31 - 1) throw new SipParseError('bad CSeq');
  return { seq, method: m[2]!.toUpperCase() };
}

/** The branch parameter of the topmost Via (empty when it has none, as RFC 2543 agents). */
function topBranch(headers: SipHeaders): string {
  const via = required(headers, 'via');
  const top = via.split(',', 1)[0]!;
  return /;\s*branch\s*=\s*([^;,\s]+)/i.exec(top)?.[1] ?? '';
}

/** A name-addr or addr-spec (From, To, Contact): its URI and header parameters. */
export interface NameAddr {
  readonly uri: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Reads `"Name" <sip:u@h;p>;tag=x` or `sip:u@h;tag=x`; throws {@link SipParseError}. */
export function parseNameAddr(value: string): NameAddr {
  let rest = value.trim();
  if (rest.startsWith('"')) {
    const close = /^"(?:[^"\\]|\\.)*"/.exec(rest);
    if (!close) throw new SipParseError('unterminated display name');
    rest = rest.slice(close[0].length).trimStart();
  }
  let uri: string;
  let params: string;
  const open = rest.indexOf('<');
  if (open >= 0) {
    const close = rest.indexOf('>', open);
    if (close < 0) throw new SipParseError('unterminated URI');
    uri = rest.slice(open + 1, close).trim();
    params = rest.slice(close + 1);
  } else {
    const semi = rest.indexOf(';');
    uri = (semi < 0 ? rest : rest.slice(0, semi)).trim();
    params = semi < 0 ? '' : rest.slice(semi);
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError('bad URI');
  return { uri, params: readParams(params) };
}

function readParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of text.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    params.set(name, eq < 0 ? '' : p.slice(eq + 1).trim());
  }
  return params;
}

/** One header field to write: name and value (the value must not contain CR or LF). */
export type HeaderField = readonly [name: string, value: string];

/** Writes a request; Content-Length is added (UTF-8 bytes of `body`). */
export function formatRequest(
  method: string,
  uri: string,
  headers: readonly HeaderField[],
  body = '',
): string {
  return formatMessage(`${method} ${uri} SIP/2.0`, headers, body);
}

/** Writes a response; Content-Length is added. */
export function formatResponse(
  status: number,
  reason: string,
  headers: readonly HeaderField[],
  body = '',
): string {
  return formatMessage(`SIP/2.0 ${status} ${reason}`, headers, body);
}

function formatMessage(startLine: string, headers: readonly HeaderField[], body: string): string {
  let text = `${startLine}\r\n`;
  for (const [name, value] of headers) {
    if (/[\r\n]/.test(value)) throw new SipParseError('line break in a header value');
    text += `${name}: ${value}\r\n`;
  }
  return `${text}Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
}

/**
 * `sip:<user>@<host>` with the user part escaped as RFC 3261 §25.1 requires (`user` is the
 * unescaped user, e.g. `bob` or a remote key); throws {@link SipParseError} without an `@`.
 */
export function sipUri(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) throw new SipParseError('not user@host');
  const host = address.slice(at + 1);
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new SipParseError('bad host');
  return `sip:${escapeUser(address.slice(0, at))}@${host}`;
}

/** Escapes what RFC 3261's `user` does not allow unescaped (unreserved and user-unreserved stay). */
function escapeUser(user: string): string {
  return user.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (ch) =>
    [...Buffer.from(ch, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}
