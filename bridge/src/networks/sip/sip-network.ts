import type { Logger } from '@switchboard/service-kit';
import type { BridgeCore, NetworkConnector } from '../../core/core.js';
import { BridgeError } from '../../model/errors.js';
import type { BridgeMetrics } from '../../core/metrics.js';
import type { Address, OutboundMessage, Target } from '../../model/model.js';
import type { BridgeStore } from '../../store/bridge-store.js';
import { ENVELOPE_MEDIA_TYPE } from '../../model/envelope.js';
import type { InboundMessage } from '../../model/model.js';
import {
  DEFAULT_MAX_SIP_BODY,
  FRAGMENT_HEADER,
  FRAGMENT_MEDIA_TYPE,
  MESSAGE_ID_HEADER,
  SECURITY_HEADER,
  fromSipMessage,
  mediaType,
  parseSipFragment,
  sipAddress,
  sipStatusFor,
  toSipMessages,
} from '../../translators/sip.js';
import type { SipFragment, SipMessageIn, SipMessageOut } from '../../translators/sip.js';
import { FragmentAssembler, sendFragments } from './sip-fragments.js';
import { remoteKeyFor } from '../../routing/addressing.js';
import { SipAgent } from './sip-agent.js';
import type { SipAnswer } from './sip-agent.js';
import { parseNameAddr, sipUri } from './sip-message.js';
import type { HeaderField, SipRequest, SipResponse } from './sip-message.js';
import { SipRegistration } from './sip-registration.js';

/** How the bridge reaches its SIP proxy: a user agent over WebSocket (RFC 7118). */
export interface SipConfig {
  /** `ws://host:port` (or `wss://`) of the proxy's WebSocket listener. */
  readonly server: string;
  /** The SIP domain; ghosts appear as `sip:<remote key>@<domain>`. */
  readonly domain: string;
  /** The bridge's own user; it registers `sip:<user>@<domain>`. */
  readonly user: string;
  /** Digest password, when the proxy authenticates REGISTER. */
  readonly password?: string | null;
  /** Registration lifetime asked for (s); refreshed at 90 % of what the registrar grants. */
  readonly registerExpires: number;
  /** Delay between reconnection attempts after the proxy went away (ms). */
  readonly reconnectDelayMs: number;
  /**
   * Largest MESSAGE body the bridge sends (bytes); a longer envelope goes in fragments. Must
   * leave room for the headers (about 1 KB) within the proxy's TCP read buffer (Kamailio
   * `tcp_rd_buf_size`, 16 KB by default). Default 8192.
   */
  readonly maxBodyBytes?: number | null;
}

/** Fragments of one envelope in flight at once. */
const FRAGMENT_WINDOW = 4;
/** Fragmented messages whose partial progress is remembered between attempts. */
const PROGRESS_KEPT = 1024;

/** Final responses after which retrying the same MESSAGE later may succeed. */
const RETRYABLE = new Set([408, 480, 500, 502, 503, 504]);

/**
 * The SIP side of the bridge: one registered user agent ({@link SipAgent}, our own small SIP
 * layer over WebSocket). MESSAGE requests (RFC 3428) the proxy routes to it are answered 200
 * only once the core has recorded them; outgoing messages are sent through the proxy, each
 * settled by its final response, timer F or the loss of the connection. Refreshes its
 * registration, reconnects and registers again after the proxy restarts.
 */
export class SipNetwork implements NetworkConnector {
  readonly network = 'sip' as const;
  readonly #config: SipConfig;
  readonly #core: BridgeCore;
  readonly #store: BridgeStore;
  readonly #logger: Logger;
  readonly #metrics: BridgeMetrics;
  #agent: SipAgent | undefined;
  #registration: SipRegistration | undefined;
  #registered = false;
  #connected = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  /** Per fragmented message: fragments acknowledged by an earlier attempt (by index). */
  readonly #progress = new Map<string, Set<number>>();
  readonly #assembler: FragmentAssembler;
  readonly #maxBody: number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    config: SipConfig,
    deps: { core: BridgeCore; store: BridgeStore; logger: Logger; metrics: BridgeMetrics },
  ) {
    this.#config = config;
    this.#core = deps.core;
    this.#store = deps.store;
    this.#logger = deps.logger.child({ network: 'sip' });
    this.#metrics = deps.metrics;
    this.#maxBody = config.maxBodyBytes ?? DEFAULT_MAX_SIP_BODY;
    this.#assembler = new FragmentAssembler();
  }

  /** Incomplete fragmented messages and characters held now. */
  get fragmentsHeld(): { readonly partials: number; readonly chars: number } {
    return this.#assembler.held;
  }

  /** The address of record the bridge registers. */
  get aor(): string {
    return `sip:${this.#config.user}@${this.#config.domain}`;
  }

  /** Connects and registers; if the proxy is not there yet, keeps trying in the background. */
  async start(): Promise<void> {
    try {
      sipUri(`${this.#config.user}@${this.#config.domain}`);
    } catch (err) {
      throw new BridgeError('invalid-config', 'SIP user and domain do not form a URI', {
        cause: err,
      });
    }
    this.#sweeper = setInterval(() => this.#assembler.sweep(), 5000);
    this.#sweeper.unref();
    await this.#connect();
  }

  /**
   * Opens a connection (a fresh {@link SipAgent}) and registers through it. After the proxy
   * went away the next connection is a new agent with a new registration; whatever was in
   * flight on the old one has failed already.
   */
  async #connect(): Promise<void> {
    if (this.#stopped) return;
    let agent: SipAgent | undefined;
    try {
      agent = await SipAgent.connect({
        server: this.#config.server,
        credentials: this.#config.password
          ? { username: this.#config.user, password: this.#config.password }
          : undefined,
        logger: this.#logger,
        onMessage: (req) => this.#onMessage(req),
        onClose: () => this.#onClose(agent),
      });
    } catch (err) {
      this.#logger.warn({ err }, 'SIP proxy not reachable; retrying');
      this.#scheduleReconnect();
      return;
    }
    if (this.#stopped) {
      await agent.close();
      return;
    }
    this.#agent = agent;
    this.#connected = true;
    const registration = new SipRegistration(agent, {
      aor: this.aor,
      registrar: `sip:${this.#config.domain}`,
      expires: this.#config.registerExpires,
      retryMs: Math.max(this.#config.reconnectDelayMs, 1000),
      logger: this.#logger,
      onState: (up, expiresAt) => this.#onRegistration(registration, up, expiresAt),
    });
    this.#registration = registration;
    void registration.dropStale().then(() => registration.register());
  }

  #onClose(agent: SipAgent | undefined): void {
    if (!agent || agent !== this.#agent) return;
    this.#agent = undefined;
    this.#registration?.stop();
    this.#registration = undefined;
    this.#connected = false;
    this.#setRegistered(false);
    this.#recordRegistration('Unregistered', null);
    this.#logger.warn('SIP proxy connection lost; reconnecting');
    this.#scheduleReconnect();
  }

  #onRegistration(registration: SipRegistration, up: boolean, expiresAt: number | null): void {
    if (registration !== this.#registration) return;
    this.#setRegistered(up);
    this.#recordRegistration(up ? 'Registered' : 'Unregistered', expiresAt);
    if (up) this.#core.flush();
  }

  #recordRegistration(state: string, expiresAt: number | null): void {
    this.#store
      .saveRegistration('sip', this.aor, state, expiresAt)
      .catch((err: unknown) => this.#logger.warn({ err }, 'could not record registration'));
  }

  /** Unregisters (bounded wait) and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#sweeper) clearInterval(this.#sweeper);
    const agent = this.#agent;
    this.#agent = undefined;
    const wasRegistered = this.#registered;
    if (wasRegistered) await this.#registration?.unregister();
    this.#registration?.stop();
    await agent?.close();
    this.#connected = false;
    this.#setRegistered(false);
    if (wasRegistered) {
      await this.#store
        .saveRegistration('sip', this.aor, 'Unregistered', null)
        .catch((err: unknown) => this.#logger.warn({ err }, 'could not record registration'));
    }
  }

  isUp(): boolean {
    return this.#connected && this.#registered;
  }

  /**
   * Sends `msg` as one MESSAGE, or, when its envelope is longer than `maxBodyBytes`, as
   * fragments, {@link FRAGMENT_WINDOW} at a time. Fragments acknowledged in an attempt that
   * then failed are not sent again in the next (a long envelope makes progress even when one
   * attempt cannot carry it all within the delivery timeout). Delivered only when the
   * receiver answered a fragment `200` (it completed the envelope, or had it already); `202`
   * means "held, waiting for the rest". All answered `202` means the receiver lost what it
   * held (it restarted): the next attempt sends every fragment again.
   */
  async deliver(msg: OutboundMessage, sender: Target): Promise<void> {
    const parts = toSipMessages(msg, sender, this.#config.domain, this.#maxBody);
    if (parts.length === 1) {
      await this.#sendOut(parts[0]!);
      return;
    }
    const acked = this.#progress.get(msg.id) ?? new Set<number>();
    this.#progress.delete(msg.id);
    this.#progress.set(msg.id, acked);
    if (this.#progress.size > PROGRESS_KEPT) {
      this.#progress.delete(this.#progress.keys().next().value as string);
    }
    const complete = await sendFragments(parts.length, acked, FRAGMENT_WINDOW, (i) =>
      this.#sendOut(parts[i]!),
    );
    this.#progress.delete(msg.id);
    if (!complete) {
      throw new BridgeError('network-unavailable', 'the SIP recipient lost earlier fragments');
    }
  }

  #sendOut(out: SipMessageOut): Promise<number> {
    return this.#send(out.targetUri, out.fromUri, out.contentType, out.body, out.extraHeaders);
  }

  async notify(to: Address, about: Target, text: string): Promise<void> {
    const fromUri = `sip:${remoteKeyFor(about)}@${this.#config.domain}`;
    await this.#send(
      `sip:${to.id}`,
      fromUri,
      'text/plain;charset=utf-8',
      `[switchboard bridge] ${text}`,
      [],
    );
  }

  /**
   * Sends one MESSAGE and resolves with its final 2xx status. Every send settles: a final
   * response, timer F, or the loss of the connection it went out on.
   */
  async #send(
    targetUri: string,
    fromUri: string,
    contentType: string,
    body: string,
    headers: readonly string[],
  ): Promise<number> {
    const agent = this.#agent;
    if (!agent || !this.isUp()) {
      throw new BridgeError('network-unavailable', 'not registered with the SIP proxy');
    }
    let uri: string;
    let from: string;
    try {
      uri = sipUri(targetUri.replace(/^sip:/i, ''));
      from = sipUri(fromUri.replace(/^sip:/i, ''));
    } catch (err) {
      throw new BridgeError('invalid-address', 'not a SIP URI', { cause: err });
    }
    let res: SipResponse;
    try {
      res = await agent.request({
        method: 'MESSAGE',
        uri,
        to: uri,
        from,
        contentType,
        body,
        headers: headers.map(headerField),
      });
    } catch (err) {
      throw new BridgeError('network-unavailable', 'no answer from the SIP proxy', { cause: err });
    }
    if (res.status >= 200 && res.status < 300) return res.status;
    this.#logger.debug({ status: res.status }, 'SIP MESSAGE refused');
    throw RETRYABLE.has(res.status)
      ? new BridgeError('network-unavailable', 'the SIP recipient is not reachable now')
      : new BridgeError('delivery-rejected', 'the SIP recipient refused the message');
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, this.#config.reconnectDelayMs);
  }

  #setRegistered(up: boolean): void {
    this.#registered = up;
    this.#metrics.setUp('sip', this.isUp());
  }

  /**
   * Answers a MESSAGE: `200` once the core recorded it (`202` for a fragment held until the
   * rest arrives, so the sender can tell it from the one that completed the envelope), with
   * the end-to-bridge mark for plaintext; else the error's status.
   */
  async #onMessage(req: SipRequest): Promise<SipAnswer> {
    try {
      const taken = await this.#take(req);
      return {
        status: taken === 'held' ? 202 : 200,
        headers: taken === 'plaintext' ? [[SECURITY_HEADER, 'end-to-bridge']] : [],
      };
    } catch (err) {
      const bridgeErr = BridgeError.is(err)
        ? err
        : new BridgeError('network-unavailable', 'internal bridge error');
      if (!BridgeError.is(err)) {
        this.#logger.error({ err }, 'unexpected failure handling a MESSAGE');
      }
      const { code, reason } = sipStatusFor(bridgeErr);
      const retryAfter = bridgeErr.retryAfterSeconds;
      return {
        status: code,
        reason,
        headers:
          retryAfter !== undefined
            ? [['Retry-After', String(Math.max(1, Math.ceil(retryAfter)))]]
            : [],
      };
    }
  }

  /**
   * Translates a MESSAGE and hands it to the core (a fragment to the assembler first: only
   * the one completing an envelope reaches the core). Resolves once it may be answered 200,
   * to the kind of payload taken; throws a {@link BridgeError} to answer with.
   */
  async #take(req: SipRequest): Promise<'envelope' | 'plaintext' | 'held' | 'taken'> {
    let fields: SipMessageIn;
    let inbound: InboundMessage;
    let fragment: SipFragment | undefined;
    try {
      fields = messageFields(req);
      if (mediaType(fields.contentType) === FRAGMENT_MEDIA_TYPE) {
        fragment = parseSipFragment(fields);
        const outcome = this.#assembler.add(sipAddress(fields.fromUri).id, fragment);
        if (outcome.kind === 'partial') return 'held';
        if (outcome.kind === 'already-complete') return 'taken';
        fields = { ...fields, contentType: ENVELOPE_MEDIA_TYPE, body: outcome.text };
      }
      inbound = fromSipMessage(fields);
    } catch (err) {
      if (BridgeError.is(err)) this.#metrics.failed('sip', err.code);
      throw err;
    }
    await this.#core.accept('sip', inbound);
    if (fragment) this.#assembler.taken(inbound.from.id, fragment.messageId);
    return inbound.payload.kind;
  }
}

/** The parts of a MESSAGE the translator reads; a From or To that is no name-addr is refused. */
function messageFields(req: SipRequest): SipMessageIn {
  let fromUri: string;
  let toUri: string;
  try {
    fromUri = parseNameAddr(req.headers.get('from') ?? '').uri;
    toUri = parseNameAddr(req.headers.get('to') ?? '').uri;
  } catch (err) {
    throw new BridgeError('invalid-address', 'unreadable From or To header', { cause: err });
  }
  return {
    fromUri,
    toUri,
    contentType: req.headers.get('content-type'),
    body: req.body,
    callId: req.callId,
    cseq: req.cseq,
    messageId: req.headers.get(MESSAGE_ID_HEADER),
    fragment: req.headers.get(FRAGMENT_HEADER),
  };
}

/** `Name: value` (as the translator writes extra headers) as a header field. */
function headerField(line: string): HeaderField {
  const colon = line.indexOf(':');
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}
