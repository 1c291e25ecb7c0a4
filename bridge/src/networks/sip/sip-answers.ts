import { formatResponse, MAX_HEADER_CHARS, MAX_MESSAGE_CHARS } from './sip-message.js';
import type { HeaderField } from './sip-message.js';

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  513: 'Message Too Large',
};

/** The standard reason phrase of a status code (RFC 3261 §21). */
export function reasonFor(status: number): string {
  return REASONS[status] ?? (status < 300 ? 'OK' : 'Error');
}

/** Whether a From/To value carries a `tag` parameter (outside its `<URI>`). */
export function hasTag(value: string): boolean {
  const close = value.lastIndexOf('>');
  return /;\s*tag\s*=/i.test(close >= 0 ? value.slice(close) : value);
}

const ECHOED = /^(via|v|from|f|to|t|call-id|i|cseq)\s*:/i;

/**
 * A `400 Bad Request` for a request the parser refused, when its start line reads as a
 * request and the fields an answer must echo (Via, From, To, Call-ID, CSeq) can be found as
 * plain lines of sane length; else undefined (nothing can be answered: dropped).
 */
export function badRequestAnswer(text: string): string | undefined {
  if (text.length > MAX_MESSAGE_CHARS || !/^[A-Za-z]+ \S+ SIP\/2\.0\r?\n/.test(text)) {
    return undefined;
  }
  const endOfHead = text.search(/\r?\n\r?\n/);
  const head = endOfHead < 0 ? text : text.slice(0, endOfHead);
  const fields: HeaderField[] = [];
  for (const line of head.split(/\r?\n/).slice(1)) {
    // eslint-disable-next-line no-control-regex
    if (!ECHOED.test(line) || line.length > MAX_HEADER_CHARS || /[\x00-\x1f\x7f]/.test(line)) {
      continue;
    }
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const toTagged =
      /^(to|t)$/i.test(name) && !hasTag(value) ? `${value};tag=sb-bad-request` : value;
    fields.push([name, toTagged]);
  }
  const names = new Set(fields.map(([n]) => n.toLowerCase()));
  const has = (long: string, short: string): boolean => names.has(long) || names.has(short);
  if (!has('via', 'v') || !has('from', 'f') || !has('to', 't') || !has('call-id', 'i')) {
    return undefined;
  }
  if (!names.has('cseq')) return undefined;
  return formatResponse(400, 'Bad Request', fields);
}
