import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalName, encodeName, Rcode, RRClass, RRType } from '@switchboard/dns-wire';

// TSIG (RFC 8945) with HMAC-SHA256 only, for zone transfers and NOTIFY.

/** A shared TSIG key. `name` is absolute; `secret` the raw key bytes. */
export interface TsigKey {
  readonly name: string;
  readonly secret: Uint8Array;
}

export const HMAC_SHA256 = 'hmac-sha256.';
const FUDGE = 300;

/** The parsed TSIG record at the end of a message, with where it starts. */
export interface TsigPart {
  /** Offset of the TSIG RR in the message. */
  readonly start: number;
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Uint8Array;
  readonly originalId: number;
  readonly error: number;
  readonly otherData: Uint8Array;
}

/** Outcome of verifying a request. */
export type TsigCheck =
  | { readonly status: 'none' }
  | { readonly status: 'ok'; readonly key: TsigKey; readonly part: TsigPart }
  | {
      readonly status: 'failed';
      /** BADKEY, BADSIG or BADTIME (RFC 8945 5.2). */
      readonly error: number;
      readonly part: TsigPart;
      readonly key?: TsigKey;
    };

function u16(b: Uint8Array, o: number): number {
  if (o + 2 > b.length) throw new RangeError('truncated');
  return (b[o]! << 8) | b[o + 1]!;
}

/** Skips a (possibly compressed) wire name; returns the offset after it. */
function skipName(b: Uint8Array, o: number): number {
  for (let guard = 0; guard < 128; guard += 1) {
    if (o >= b.length) throw new RangeError('truncated');
    const len = b[o]!;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) return o + 2;
    o += len + 1;
  }
  throw new RangeError('name too long');
}

/** Reads an uncompressed wire name (TSIG owner and algorithm are never compressed). */
function readName(b: Uint8Array, o: number): { name: string; end: number } {
  const labels: string[] = [];
  for (let guard = 0; guard < 128; guard += 1) {
    if (o >= b.length) throw new RangeError('truncated');
    const len = b[o]!;
    if (len === 0) return { name: `${labels.join('.')}.`.toLowerCase(), end: o + 1 };
    if (len > 63 || o + 1 + len > b.length) throw new RangeError('bad label');
    labels.push(Buffer.from(b.subarray(o + 1, o + 1 + len)).toString('latin1'));
    o += len + 1;
  }
  throw new RangeError('name too long');
}

/**
 * Finds a TSIG record as the last additional record of a message that already decoded
 * cleanly. Returns undefined when there is none.
 */
export function findTsig(msg: Uint8Array): TsigPart | undefined {
  const qd = u16(msg, 4);
  const rrs = u16(msg, 6) + u16(msg, 8) + u16(msg, 10);
  if (u16(msg, 10) === 0) return undefined;
  let o = 12;
  for (let i = 0; i < qd; i += 1) o = skipName(msg, o) + 4;
  let start = -1;
  for (let i = 0; i < rrs; i += 1) {
    start = o;
    o = skipName(msg, o);
    o += 10 + u16(msg, o + 8);
  }
  if (start < 0) return undefined;
  const owner = readName(msg, start);
  if (u16(msg, owner.end) !== RRType.TSIG) return undefined;
  let p = owner.end + 10;
  const alg = readName(msg, p);
  p = alg.end;
  const timeSigned = u16(msg, p) * 2 ** 32 + u16(msg, p + 2) * 65536 + u16(msg, p + 4);
  const fudge = u16(msg, p + 6);
  const macSize = u16(msg, p + 8);
  const mac = msg.slice(p + 10, p + 10 + macSize);
  p += 10 + macSize;
  const originalId = u16(msg, p);
  const error = u16(msg, p + 2);
  const otherLen = u16(msg, p + 4);
  const otherData = msg.slice(p + 6, p + 6 + otherLen);
  if (p + 6 + otherLen !== msg.length) throw new RangeError('TSIG length mismatch');
  return {
    start,
    keyName: owner.name,
    algorithm: alg.name,
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    otherData,
  };
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}
function u16b(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** The message as it was before the TSIG was added: TSIG cut off, ARCOUNT-1, original ID. */
function strippedMessage(msg: Uint8Array, part: TsigPart): Buffer {
  const body = Buffer.from(msg.subarray(0, part.start));
  body.writeUInt16BE(part.originalId, 0);
  body.writeUInt16BE(u16(msg, 10) - 1, 10);
  return body;
}

function variables(
  keyName: string,
  algorithm: string,
  timeSigned: number,
  fudge: number,
  error: number,
  otherData: Uint8Array,
  timersOnly: boolean,
): Buffer {
  if (timersOnly) return Buffer.concat([u48(timeSigned), u16b(fudge)]);
  return Buffer.concat([
    encodeName(canonicalName(keyName)),
    u16b(RRClass.ANY),
    Buffer.alloc(4),
    encodeName(canonicalName(algorithm)),
    u48(timeSigned),
    u16b(fudge),
    u16b(error),
    u16b(otherData.length),
    Buffer.from(otherData),
  ]);
}

function hmac(key: TsigKey, parts: readonly Uint8Array[]): Buffer {
  const h = createHmac('sha256', key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Verifies a request's TSIG against the known keys (RFC 8945 5.2); `now` in seconds. */
export function verifyTsigRequest(
  msg: Uint8Array,
  keys: readonly TsigKey[],
  now: number,
): TsigCheck {
  const part = findTsig(msg);
  if (!part) return { status: 'none' };
  const key = keys.find((k) => canonicalName(k.name) === part.keyName);
  if (!key || part.algorithm !== HMAC_SHA256) {
    return { status: 'failed', error: Rcode.BADKEY, part };
  }
  const expected = hmac(key, [
    strippedMessage(msg, part),
    variables(
      part.keyName,
      part.algorithm,
      part.timeSigned,
      part.fudge,
      part.error,
      part.otherData,
      false,
    ),
  ]);
  // RFC 8945 5.2.2.1: a MAC shorter than half the hash (or 10 octets) is refused.
  if (
    part.mac.length < 16 ||
    part.mac.length > expected.length ||
    !timingSafeEqual(expected.subarray(0, part.mac.length), part.mac)
  ) {
    return { status: 'failed', error: Rcode.BADSIG, part, key };
  }
  if (Math.abs(now - part.timeSigned) > part.fudge) {
    return { status: 'failed', error: Rcode.BADTIME, part, key };
  }
  return { status: 'ok', key, part };
}

/** Signing state for the messages of one response stream (RFC 8945 5.3.1). */
export interface TsigStream {
  readonly key: TsigKey;
  /** The MAC the next message chains from (request MAC first, then each response MAC). */
  previousMac: Uint8Array;
  /** Whether a message of this stream was signed already (later ones use timers only). */
  signedOne: boolean;
  readonly originalId: number;
}

/** Starts signing responses to a verified request. */
export function tsigStream(key: TsigKey, request: TsigPart): TsigStream {
  return { key, previousMac: request.mac, signedOne: false, originalId: request.originalId };
}

function tsigRecord(
  key: { readonly name: string },
  timeSigned: number,
  mac: Uint8Array,
  originalId: number,
  error: number,
  otherData: Uint8Array,
  algorithm: string = HMAC_SHA256,
  fudge: number = FUDGE,
): Buffer {
  const rdata = Buffer.concat([
    encodeName(canonicalName(algorithm)),
    u48(timeSigned),
    u16b(fudge),
    u16b(mac.length),
    Buffer.from(mac),
    u16b(originalId),
    u16b(error),
    u16b(otherData.length),
    Buffer.from(otherData),
  ]);
  return Buffer.concat([
    encodeName(canonicalName(key.name)),
    u16b(RRType.TSIG),
    u16b(RRClass.ANY),
    Buffer.alloc(4),
    u16b(rdata.length),
    rdata,
  ]);
}

function withRecord(msg: Uint8Array, record: Uint8Array): Uint8Array {
  const out = Buffer.concat([Buffer.from(msg), record]);
  out.writeUInt16BE(u16(out, 10) + 1, 10);
  return out;
}

/**
 * Adds the TSIG a failed request is owed to its encoded NOTAUTH response (RFC 8945 5.2, 5.3.2):
 * for BADKEY and BADSIG an unsigned TSIG (no MAC) naming the request's key and algorithm; for
 * BADTIME a TSIG signed with the key, carrying the request's Time Signed (so the client can
 * check it) and the server's clock in Other Data (so the client can see the skew). `now` in
 * seconds.
 */
export function tsigErrorResponse(
  msg: Uint8Array,
  check: Extract<TsigCheck, { status: 'failed' }>,
  now: number,
): Uint8Array {
  const { part } = check;
  if (check.error === Rcode.BADTIME && check.key) {
    const otherData = u48(Math.floor(now));
    const prev = Buffer.concat([u16b(part.mac.length), Buffer.from(part.mac)]);
    const mac = hmac(check.key, [
      prev,
      msg,
      variables(check.key.name, HMAC_SHA256, part.timeSigned, FUDGE, check.error, otherData, false),
    ]);
    return withRecord(
      msg,
      tsigRecord(check.key, part.timeSigned, mac, part.originalId, check.error, otherData),
    );
  }
  return withRecord(
    msg,
    tsigRecord(
      { name: part.keyName },
      part.timeSigned,
      new Uint8Array(0),
      part.originalId,
      check.error,
      new Uint8Array(0),
      part.algorithm,
      part.fudge,
    ),
  );
}

/**
 * Appends a TSIG to an encoded response (ARCOUNT+1) and advances the stream. The first
 * message covers the request MAC and all TSIG variables; later messages of a multi-message
 * transfer cover the previous MAC and the timers only (RFC 8945 5.3.1).
 */
export function signTsigResponse(
  msg: Uint8Array,
  stream: TsigStream,
  now: number,
  error: number = Rcode.NOERROR,
): Uint8Array {
  const timeSigned = Math.floor(now);
  const otherData = error === Rcode.BADTIME ? u48(timeSigned) : new Uint8Array(0);
  const prev = Buffer.concat([u16b(stream.previousMac.length), Buffer.from(stream.previousMac)]);
  const mac = hmac(stream.key, [
    prev,
    msg,
    variables(stream.key.name, HMAC_SHA256, timeSigned, FUDGE, error, otherData, stream.signedOne),
  ]);
  stream.previousMac = mac;
  stream.signedOne = true;
  return withRecord(
    msg,
    tsigRecord(stream.key, timeSigned, mac, stream.originalId, error, otherData),
  );
}

/** Signs a request (NOTIFY) with a TSIG; returns the signed bytes and the MAC. */
export function signTsigRequest(
  msg: Uint8Array,
  key: TsigKey,
  now: number,
): { bytes: Uint8Array; mac: Uint8Array } {
  const timeSigned = Math.floor(now);
  const id = u16(msg, 0);
  const mac = hmac(key, [
    msg,
    variables(key.name, HMAC_SHA256, timeSigned, FUDGE, 0, new Uint8Array(0), false),
  ]);
  return {
    bytes: withRecord(msg, tsigRecord(key, timeSigned, mac, id, 0, new Uint8Array(0))),
    mac,
  };
}

/** Parses `name:base64secret` (the knotc/BIND `hmac-sha256:name:secret` prefix is accepted). */
export function parseTsigKey(text: string): TsigKey {
  const parts = text.split(':');
  const [name, secret] = parts.length === 3 && parts[0] === 'hmac-sha256' ? parts.slice(1) : parts;
  if (!name || !secret || parts.length > 3) {
    throw new Error('TSIG key must be written name:base64secret (hmac-sha256)');
  }
  const bytes = Buffer.from(secret, 'base64');
  if (bytes.length < 16) throw new Error('TSIG secret must be at least 16 bytes of base64');
  return {
    name: name.endsWith('.') ? name.toLowerCase() : `${name.toLowerCase()}.`,
    secret: bytes,
  };
}
