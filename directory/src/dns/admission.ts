// Admission to signing work: every signature made for a query (a synthesised denial or NSEC
// record; never the RRsets the zone holds, which are signed once per validity period) is
// admitted here first, before any of its cost is paid. See directory/README.md "Abuse".
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, EdnsOptionCode, encodeMessage, Rcode } from '@switchboard/dns-wire';
import { clientPrefix, RateLimiter } from '@switchboard/service-kit';
import { errorResponse } from './answer.js';
import type { CookieStatus, DnsCookies } from './cookies.js';
import { REPLY_COOKIE_LENGTH } from './cookies.js';
import type { ResponseRateLimiter, RrlConfig } from './rrl.js';

/** Limits on signatures made for queries. */
export interface SigningBudgetConfig {
  /** Fresh signatures per second for all clients together (token bucket); 0 = no budget. */
  readonly signaturesPerSecond: number;
  /**
   * Tokens of that budget only verified clients (TCP, or a valid server cookie) may take:
   * spoofable UDP alone cannot use up the budget. Less than `signaturesPerSecond`.
   */
  readonly reserve: number;
  /** Fresh signatures per second per verified client prefix (RRL's prefixes); 0 = unlimited. */
  readonly perClientPerSecond: number;
}

export const DEFAULT_SIGNING_BUDGET: SigningBudgetConfig = {
  signaturesPerSecond: 4000,
  reserve: 1000,
  perClientPerSecond: 200,
};

/** Why a query was not given a signature. */
export type LimitReason = 'rrl' | 'client' | 'budget';
/**
 * What is sent instead: nothing; an empty truncated reply (retry over TCP); BADCOOKIE with a
 * fresh server cookie (retry with it, RFC 7873 5.2.3); REFUSED (a verified client over its
 * limit, or the budget spent).
 */
export type LimitAction = 'drop' | 'tc' | 'badcookie' | 'refused';

/** Thrown by a {@link QueryGate} to stop a signature being made (one object, no stack taken). */
export const SIGNING_REFUSED: Readonly<{ refused: true }> = Object.freeze({ refused: true });

/** A token bucket of which the last `reserve` tokens only some takers may have. */
class Bucket {
  readonly #rate: number;
  #tokens: number;
  #at: number;

  constructor(rate: number, now: number) {
    this.#rate = rate;
    this.#tokens = rate;
    this.#at = now;
  }

  take(now: number, keep: number): boolean {
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
    if (this.#tokens < keep + 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * The budget itself, shared by all queries. `now` in milliseconds.
 */
export class SigningBudget {
  readonly #config: SigningBudgetConfig;
  readonly #now: () => number;
  readonly #global: Bucket | undefined;
  readonly #perClient: RateLimiter | undefined;

  constructor(config: SigningBudgetConfig, now: () => number) {
    if (config.signaturesPerSecond > 0 && config.reserve >= config.signaturesPerSecond) {
      throw new RangeError('the signing reserve must be below the signing budget');
    }
    this.#config = config;
    this.#now = now;
    this.#global =
      config.signaturesPerSecond > 0 ? new Bucket(config.signaturesPerSecond, now()) : undefined;
    this.#perClient =
      config.perClientPerSecond > 0
        ? new RateLimiter({ capacity: config.perClientPerSecond, perSeconds: 1 }, { now })
        : undefined;
  }

  /** Takes a verified client's per-prefix token. */
  takeClient(prefix: string): boolean {
    return this.#perClient ? this.#perClient.take(prefix).allowed : true;
  }

  /** Takes a global token; unverified takers must leave the reserve. */
  takeGlobal(verified: boolean): boolean {
    if (!this.#global) return true;
    return this.#global.take(this.#now(), verified ? 0 : this.#config.reserve);
  }
}

/** Where a query's COOKIE option data is in its packet (the fast path's parse): 0 if none. */
export interface CookieLocation {
  readonly cookieAt: number;
  readonly cookieLength: number;
}

/** What the gate learns about one query, kept for the server to answer with. */
export interface Limited {
  reason: LimitReason;
  action: LimitAction;
}

/**
 * One query's admission, reused for every query (nothing here awaits). The server fills it in
 * before answering; the signer calls {@link QueryGate.admit} before each fresh signature, which
 * throws {@link SIGNING_REFUSED} when the query must not have one.
 *
 * Unverified UDP (no valid server cookie) passes RRL first (one bucket per client prefix for
 * every denial that needs a signature, so random names share it), then the budget without its
 * reserve. TCP and valid cookies skip RRL (their address is not spoofed), but pass a per-client
 * limit, then the whole budget.
 */
export class QueryGate {
  readonly #budget: SigningBudget;
  readonly #rrl: ResponseRateLimiter;
  readonly #rrlConfig: RrlConfig;
  readonly #cookies: DnsCookies | undefined;
  readonly #identity: string;
  #transport: 'udp' | 'tcp' = 'udp';
  #address = '';
  #now = 0;
  #cookie: Uint8Array | undefined;
  #packet: Uint8Array | undefined;
  #location: CookieLocation | undefined;
  #status: CookieStatus | undefined;
  #rrlDone = false;
  /** Set when a signature was refused: what to answer instead. */
  limited: Limited | undefined;

  constructor(
    budget: SigningBudget,
    rrl: ResponseRateLimiter,
    rrlConfig: RrlConfig,
    cookies: DnsCookies | undefined,
    apex: string,
  ) {
    this.#budget = budget;
    this.#rrl = rrl;
    this.#rrlConfig = rrlConfig;
    this.#cookies = cookies;
    this.#identity = `${apex}/signed-denial`;
  }

  /**
   * Starts a query from `address`; `now` in seconds. Its cookie is read, when first needed,
   * from `packet` where `location` says (filled in by the fast path as it parses).
   */
  reset(
    transport: 'udp' | 'tcp',
    address: string,
    now: number,
    packet: Uint8Array,
    location: CookieLocation,
  ): void {
    this.#transport = transport;
    this.#address = address;
    this.#now = now;
    this.#packet = packet;
    this.#location = location;
    this.#cookie = undefined;
    this.#status = undefined;
    this.#rrlDone = false;
    this.limited = undefined;
  }

  /** The query's COOKIE option data, as the general path decoded it. */
  setCookie(cookie: Uint8Array | undefined): void {
    this.#packet = undefined;
    this.#cookie = cookie;
    this.#status = undefined;
  }

  /** The query's COOKIE option data, if it has one. */
  get cookie(): Uint8Array | undefined {
    const packet = this.#packet;
    if (packet && this.#location) {
      const { cookieAt, cookieLength } = this.#location;
      this.#cookie =
        cookieLength > 0 ? packet.subarray(cookieAt, cookieAt + cookieLength) : undefined;
      this.#packet = undefined;
    }
    return this.#cookie;
  }

  /** The COOKIE option's status, checked once per query ('none' when cookies are off). */
  get cookieStatus(): CookieStatus {
    if (this.#status === undefined) {
      const cookie = this.cookie;
      this.#status =
        cookie && this.#cookies ? this.#cookies.check(cookie, this.#address, this.#now) : 'none';
    }
    return this.#status;
  }

  /** The client's address was shown not to be spoofed: TCP, or a valid server cookie. */
  get verified(): boolean {
    return this.#transport === 'tcp' || this.cookieStatus === 'valid';
  }

  /** Whether RRL already judged this query (so it is not counted twice). */
  get rrlDone(): boolean {
    return this.#rrlDone;
  }

  /** The COOKIE option data for the reply (client cookie + server cookie), if the query had one. */
  replyCookie(): Uint8Array | undefined {
    const cookie = this.cookie;
    if (!cookie || !this.#cookies) return undefined;
    const out = new Uint8Array(REPLY_COOKIE_LENGTH);
    this.#cookies.reply(cookie, this.cookieStatus, this.#address, this.#now, out, 0);
    return out;
  }

  /** `message` with the reply's COOKIE option in its OPT (unchanged if none is owed). */
  withCookie(message: Message): Message {
    const data = message.edns ? this.replyCookie() : undefined;
    if (!data || !message.edns) return message;
    return {
      ...message,
      edns: { ...message.edns, options: [{ code: EdnsOptionCode.COOKIE, data }] },
    };
  }

  /**
   * A fast-path reply (its OPT last, without options) with the reply's COOKIE option appended;
   * unchanged if none is owed.
   */
  appendCookie(reply: Uint8Array): Uint8Array {
    const data = this.replyCookie();
    if (!data) return reply;
    const size = reply.length;
    const out = Buffer.allocUnsafe(size + 4 + REPLY_COOKIE_LENGTH);
    out.set(reply, 0);
    out[size - 2] = 0;
    out[size - 1] = 4 + REPLY_COOKIE_LENGTH; // the OPT's RDLENGTH
    out[size] = 0;
    out[size + 1] = EdnsOptionCode.COOKIE;
    out[size + 2] = 0;
    out[size + 3] = REPLY_COOKIE_LENGTH;
    out.set(data, size + 4);
    return out;
  }

  /**
   * What to send for `packet` (a query that got as far as needing a signature) instead of its
   * answer, per {@link limited}: nothing, or an empty reply with TC, BADCOOKIE or REFUSED, with
   * the question, the OPT and the reply's cookie. Small: never more than the query plus 28.
   */
  limitedReply(packet: Uint8Array, action: LimitAction): Uint8Array | undefined {
    if (action === 'drop') return undefined;
    let query: Message;
    try {
      query = decodeMessage(packet);
    } catch {
      return undefined;
    }
    const rcode =
      action === 'badcookie' && query.edns
        ? Rcode.BADCOOKIE
        : action === 'refused'
          ? Rcode.REFUSED
          : Rcode.NOERROR;
    const reply = errorResponse(query, rcode, query.questions);
    return encodeMessage(this.withCookie({ ...reply, tc: action === 'tc' }));
  }

  /** Before one fresh signature: returns if it may be made, else throws SIGNING_REFUSED. */
  readonly admit = (): void => {
    if (this.limited) throw SIGNING_REFUSED;
    const verified = this.verified;
    // What an unverified client gets: a way to become verified, at no cost to us.
    const redirect: LimitAction = this.cookie && this.#cookies ? 'badcookie' : 'tc';
    if (!verified && !this.#rrlDone) {
      this.#rrlDone = true;
      const decision = this.#rrl.check(this.#address, this.#identity);
      if (decision !== 'send') {
        this.limited = { reason: 'rrl', action: decision === 'drop' ? 'drop' : redirect };
        throw SIGNING_REFUSED;
      }
    }
    if (verified && !this.#budget.takeClient(clientPrefix(this.#address, this.#rrlConfig))) {
      this.limited = { reason: 'client', action: 'refused' };
      throw SIGNING_REFUSED;
    }
    if (!this.#budget.takeGlobal(verified)) {
      this.limited = { reason: 'budget', action: verified ? 'refused' : redirect };
      throw SIGNING_REFUSED;
    }
  };
}
