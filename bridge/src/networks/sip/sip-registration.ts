import { randomUUID } from 'node:crypto';
import type { Logger } from '@switchboard/service-kit';
import type { SipAgent } from './sip-agent.js';
import { parseNameAddr } from './sip-message.js';
import type { HeaderField, SipResponse } from './sip-message.js';

export interface RegistrationOptions {
  /** The address of record, e.g. `sip:switchboard-bridge@sip.example`. */
  readonly aor: string;
  /** The registrar's URI, e.g. `sip:sip.example`. */
  readonly registrar: string;
  /** Lifetime asked for (s). */
  readonly expires: number;
  /** Delay before trying again after a refused or failed registration (ms). */
  readonly retryMs: number;
  readonly logger: Logger;
  /** Registered (with when it runs out) or not any more. */
  readonly onState: (registered: boolean, expiresAt: number | null) => void;
}

/** Longest wait for the answer to an unregistration when stopping (ms). */
const UNREGISTER_WAIT_MS = 2000;

/**
 * The bridge's registration through one {@link SipAgent} (RFC 3261 §10): one Call-ID with
 * increasing CSeq, refreshed at 90 % of the lifetime the registrar granted, `423` answered
 * with its `Min-Expires`, retried after a refusal while the connection lasts. `dropStale`
 * removes every binding of the address of record (`Contact: *`), `unregister` only this one.
 */
export class SipRegistration {
  readonly #agent: SipAgent;
  readonly #opts: RegistrationOptions;
  readonly #callId = `sb-${randomUUID()}`;
  readonly #fromTag: string;
  readonly #contact: string;
  #cseq = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(agent: SipAgent, opts: RegistrationOptions) {
    this.#agent = agent;
    this.#opts = opts;
    this.#fromTag = agent.newId();
    this.#contact = `<sip:${agent.newId()}@${agent.viaHost};transport=ws>`;
  }

  /** Removes every binding of the address of record; a refusal is only logged. */
  async dropStale(): Promise<void> {
    try {
      const res = await this.#send([
        ['Contact', '*'],
        ['Expires', '0'],
      ]);
      if (res.status >= 300) this.#opts.logger.debug({ status: res.status }, 'stale bindings kept');
    } catch (err) {
      this.#opts.logger.debug({ err }, 'could not remove earlier registrations');
    }
  }

  /** Registers (and keeps refreshing); resolves once the first attempt is answered. */
  async register(expires = this.#opts.expires): Promise<void> {
    if (this.#stopped) return;
    let res: SipResponse;
    try {
      res = await this.#send([['Contact', `${this.#contact};expires=${expires}`]]);
    } catch (err) {
      this.#opts.logger.warn({ err }, 'SIP registration failed');
      return this.#failed();
    }
    if (this.#stopped) return;
    const minExpires = Number(res.headers.get('min-expires'));
    if (res.status === 423 && minExpires > expires && minExpires < 2 ** 31 / 1000) {
      return this.register(minExpires);
    }
    if (res.status >= 300 || res.status < 200) {
      this.#opts.logger.warn({ status: res.status }, 'SIP registration refused');
      return this.#failed();
    }
    const granted = this.#granted(res, expires);
    this.#opts.onState(true, Date.now() + granted * 1000);
    this.#schedule(Math.max(1000, granted * 900), () => void this.register(expires));
  }

  /** Removes this binding (bounded wait) and stops refreshing. */
  async unregister(): Promise<void> {
    this.stop();
    const done = this.#send([['Contact', `${this.#contact};expires=0`]]).then(
      () => undefined,
      (err: unknown) => this.#opts.logger.debug({ err }, 'unregister failed'),
    );
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, UNREGISTER_WAIT_MS)));
    await Promise.race([done, bound]);
    clearTimeout(timer);
  }

  /** Stops refreshing and retrying. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #failed(): void {
    this.#opts.onState(false, null);
    this.#schedule(this.#opts.retryMs, () => void this.register());
  }

  #schedule(ms: number, run: () => void): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(run, ms);
    this.#timer.unref();
  }

  /** The lifetime granted to our contact (its `expires`, else `Expires`, else what we asked). */
  #granted(res: SipResponse, asked: number): number {
    const host = this.#agent.viaHost;
    for (const value of res.headers.all('contact')) {
      for (const one of value.split(/,(?=\s*(?:"|<|sips?:))/)) {
        try {
          const contact = parseNameAddr(one);
          const seconds = Number(contact.params.get('expires'));
          if (contact.uri.includes(host) && seconds > 0) return seconds;
        } catch {
          // another agent's contact we cannot read: not ours
        }
      }
    }
    const header = Number(res.headers.get('expires'));
    return header > 0 ? header : asked;
  }

  #send(headers: readonly HeaderField[]): Promise<SipResponse> {
    // Two steps each: a challenged REGISTER goes again with the next CSeq (RFC 3261 §10.2).
    this.#cseq += 2;
    return this.#agent.request({
      method: 'REGISTER',
      uri: this.#opts.registrar,
      from: this.#opts.aor,
      fromTag: this.#fromTag,
      to: this.#opts.aor,
      callId: this.#callId,
      cseq: this.#cseq,
      headers,
    });
  }
}
