// DNS Cookies (RFC 7873) with the interoperable server cookie of RFC 9018: version 1, three
// reserved octets, a 32-bit timestamp and SipHash-2-4 over the client cookie, those 8 octets and
// the client's address, keyed by a 16-octet secret that every replica shares.
import { isIPv4 } from 'node:net';
import { SipHashKey } from './siphash.js';

/**
 * What a query's COOKIE option says (RFC 7873 5.2): none; `malformed` (a length RFC 7873 5.2.2
 * answers with FORMERR); a client cookie alone; a server cookie this server made for this
 * client within its lifetime (`valid`); or any other server cookie (`invalid`, answered as if
 * only the client cookie had come, with a fresh server cookie).
 */
export type CookieStatus = 'none' | 'malformed' | 'client' | 'valid' | 'invalid';

/** The COOKIE option's data in a reply: client cookie (8) + server cookie (16). */
export const REPLY_COOKIE_LENGTH = 24;

/** RFC 9018 4.3: a server cookie older than an hour, or more than 5 minutes ahead, is refused. */
const LIFETIME = 3600;
const SKEW = 300;
/** RFC 9018 4.3: a cookie older than half an hour is replaced by a fresh one in the reply. */
const RENEW_AFTER = 1800;

/** Whether a COOKIE option of this length is well formed (RFC 7873 4, 5.2.2). */
export function cookieLengthOk(length: number): boolean {
  return length === 8 || (length >= 16 && length <= 40);
}

/**
 * Parses a server cookie secret list: 32 hex digits each (128 bits, RFC 9018 4.4), separated by
 * commas or new lines, the first the current one. Throws a message without the secret in it.
 */
export function parseCookieSecrets(text: string): Uint8Array[] {
  const parts = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !s.startsWith('#'));
  if (parts.length === 0) throw new Error('no cookie secret given');
  return parts.map((p) => {
    if (!/^[0-9a-fA-F]{32}$/.test(p)) {
      throw new Error('a cookie secret is 32 hexadecimal digits (16 octets)');
    }
    return Uint8Array.from(Buffer.from(p, 'hex'));
  });
}

/** An address in the octets RFC 9018 4.4 hashes: 4 for IPv4 (mapped ones too), else 16. */
export function addressOctets(address: string): Uint8Array | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped ? mapped[1]! : address;
  if (isIPv4(v4)) return Uint8Array.from(v4.split('.').map(Number));
  const [head = '', tail, extra] = address.split('::');
  if (extra !== undefined) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out = s.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
    return out.some(Number.isNaN) ? undefined : out;
  };
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  if (!h || !t) return undefined;
  const missing = 8 - h.length - t.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...h, ...new Array<number>(missing).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >>> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Checks and makes server cookies. The first secret makes cookies; every secret listed is
 * accepted, so a new secret can be rolled out to all replicas before cookies made with the old
 * one stop being accepted (RFC 9018 5).
 */
export class DnsCookies {
  readonly #keys: readonly SipHashKey[];
  /** Client cookie | version | reserved | timestamp | address: what is hashed. */
  readonly #input = new Uint8Array(32);
  readonly #hash = new Uint8Array(8);
  #lastAddress = '';
  #lastOctets: Uint8Array | undefined;

  constructor(secrets: readonly Uint8Array[]) {
    if (secrets.length === 0) throw new RangeError('at least one cookie secret is needed');
    this.#keys = secrets.map((s) => new SipHashKey(s));
  }

  /** The status of COOKIE option data `cookie` from `address` at `now` (seconds). */
  check(cookie: Uint8Array, address: string, now: number): CookieStatus {
    if (!cookieLengthOk(cookie.length)) return 'malformed';
    if (cookie.length === 8) return 'client';
    if (cookie.length !== REPLY_COOKIE_LENGTH || cookie[8] !== 1) return 'invalid';
    const stamp = readU32(cookie, 12);
    const age = (now - stamp) | 0; // serial number arithmetic (RFC 1982): survives the wrap
    if (age > LIFETIME || age < -SKEW) return 'invalid';
    const length = this.#prepare(cookie, address);
    if (length === 0) return 'invalid';
    for (const key of this.#keys) {
      key.hashInto(this.#input, 0, length, this.#hash, 0);
      if (equal8(this.#hash, cookie, 16)) return 'valid';
    }
    return 'invalid';
  }

  /**
   * Writes the reply's COOKIE option data (24 octets) at `out[at]`: the client cookie and the
   * query's server cookie when it is valid and less than half an hour old, else a new one.
   */
  reply(
    cookie: Uint8Array,
    status: CookieStatus,
    address: string,
    now: number,
    out: Uint8Array,
    at: number,
  ): void {
    if (status === 'valid' && ((now - readU32(cookie, 12)) | 0) < RENEW_AFTER) {
      out.set(cookie.subarray(0, REPLY_COOKIE_LENGTH), at);
      return;
    }
    out.set(cookie.subarray(0, 8), at);
    out[at + 8] = 1; // version 1; reserved octets 0 (RFC 9018 4.2)
    out[at + 9] = 0;
    out[at + 10] = 0;
    out[at + 11] = 0;
    out[at + 12] = (now >>> 24) & 0xff;
    out[at + 13] = (now >>> 16) & 0xff;
    out[at + 14] = (now >>> 8) & 0xff;
    out[at + 15] = now & 0xff;
    const length = this.#prepare(out.subarray(at, at + 16), address);
    if (length === 0) {
      // Not an address we can hash: a cookie that will never verify, which only costs the
      // client its exemption.
      out.fill(0, at + 16, at + REPLY_COOKIE_LENGTH);
      return;
    }
    this.#keys[0]!.hashInto(this.#input, 0, length, out, at + 16);
  }

  /** Fills the hash input from the first 16 octets of `cookie`; its length, 0 if no address. */
  #prepare(cookie: Uint8Array, address: string): number {
    if (address !== this.#lastAddress) {
      this.#lastAddress = address;
      this.#lastOctets = addressOctets(address);
    }
    const octets = this.#lastOctets;
    if (!octets) return 0;
    this.#input.set(cookie.subarray(0, 16), 0);
    this.#input.set(octets, 16);
    return 16 + octets.length;
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function equal8(a: Uint8Array, b: Uint8Array, bAt: number): boolean {
  let diff = 0;
  for (let i = 0; i < 8; i++) diff |= a[i]! ^ b[bAt + i]!;
  return diff === 0;
}
