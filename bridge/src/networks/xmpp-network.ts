import type { Component, XmlElement } from '@xmpp/component';
import { component, xml } from '@xmpp/component';
import type { Socket } from 'node:net';
import type { Logger } from '@switchboard/service-kit';
import type { BridgeCore, NetworkConnector } from '../core/core.js';
import { BridgeError } from '../model/errors.js';
import type { BridgeMetrics } from '../core/metrics.js';
import type { Address, OutboundMessage, Target } from '../model/model.js';
import type { BridgeStore } from '../store/bridge-store.js';
import {
  fromXmppStanza,
  ghostJidFor,
  toXmppChatState,
  toXmppDisplayed,
  toXmppError,
  toXmppNotice,
  toXmppPresence,
  toXmppReceipt,
  toXmppStanza,
} from '../translators/xmpp.js';

/** How the bridge reaches its XMPP server as an external component (XEP-0114). */
export interface XmppConfig {
  /** `xmpp://host:port` of the server's component port. */
  readonly service: string;
  /** The component's domain; remote users appear as `<remote key>@<domain>`. */
  readonly domain: string;
  /** The shared secret configured for the component on the server. */
  readonly secret: string;
  /** Delay before reconnecting after the server went away (ms). */
  readonly reconnectDelayMs: number;
}

/** Inbound messages stored concurrently, at most. */
const MAX_ACCEPTING = 256;

/**
 * Pings per server in flight at most; messages written while that many are unanswered share the
 * next one. One ping per turn costs the server as much as a message when turns are small; one
 * at a time made a message wait up to two round trips for its answer, and a full lane (acked
 * slots come back with the answers) stalled sending: back-to-back bench runs carried about 1.5x
 * more with 8 than with 1.
 */
const PINGS_IN_FLIGHT = 8;

/** How long the server may take to answer the ping that acknowledges a delivery (ms). */
const ACK_TIMEOUT_MS = 10_000;

/** A promise and its settling functions. */
interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** One turn of the event loop's writes: the servers to ping after its stanzas. */
interface Turn {
  readonly pings: Set<string>;
}

/** Cross-network events the XMPP side raises besides messages. */
export interface XmppSideEvents {
  typing?(from: Address, target: Target, typing: boolean): void;
  presence?(from: Address, available: boolean): void;
  /** The user read (XEP-0333 displayed) the message the bridge sent with this stanza id. */
  displayed?(from: Address, target: Target, stanzaId: string): void;
}

/**
 * The XMPP side of the bridge: one external component connection, reconnecting whenever the
 * server restarts, translating stanzas with the pure functions in translators/xmpp.ts.
 */
export class XmppNetwork implements NetworkConnector {
  readonly network = 'xmpp' as const;
  readonly #config: XmppConfig;
  readonly #core: BridgeCore;
  readonly #store: BridgeStore;
  readonly #logger: Logger;
  readonly #metrics: BridgeMetrics;
  readonly #events: XmppSideEvents;
  #xmpp: Component | undefined;
  #up = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  /** Stanzas are handled one after another so a sender's messages keep their order. */
  #inbox: Promise<void> = Promise.resolve();
  /** Deliveries sent but not yet acknowledged by the server, by stanza id. */
  readonly #unacked = new Map<string, (err: BridgeError) => void>();
  /** Inbound messages being stored (at most MAX_ACCEPTING). */
  readonly #accepting = new Set<Promise<void>>();
  /** What the current turn of the event loop writes (see #joinTurn), while one is open. */
  #turn: Turn | undefined;
  /** Per server: pings in flight, and the one the messages written since wait for. */
  readonly #acks = new Map<string, { pinging: number; next: Deferred | undefined }>();

  constructor(
    config: XmppConfig,
    deps: {
      core: BridgeCore;
      store: BridgeStore;
      logger: Logger;
      metrics: BridgeMetrics;
      events?: XmppSideEvents;
    },
  ) {
    this.#config = config;
    this.#core = deps.core;
    this.#store = deps.store;
    this.#logger = deps.logger.child({ network: 'xmpp' });
    this.#metrics = deps.metrics;
    this.#events = deps.events ?? {};
  }

  /** Connects; if the server is not there yet, keeps trying in the background. */
  async start(): Promise<void> {
    const xmpp = component({
      service: this.#config.service,
      domain: this.#config.domain,
      password: this.#config.secret,
    });
    xmpp.reconnect.delay = this.#config.reconnectDelayMs;
    this.#xmpp = xmpp;
    xmpp.on('error', (err: Error) => {
      this.#logger.warn({ err }, 'xmpp connection error');
    });
    // Each stanza is written as soon as it is ready: with Nagle's algorithm on, a small write
    // waits for the server's (delayed, ~40 ms) ACK of the previous one.
    const noDelay = (): void =>
      (
        xmpp as unknown as { socket?: { setNoDelay?(on: boolean): void } | null }
      ).socket?.setNoDelay?.(true);
    xmpp.on('connect', noDelay);
    xmpp.on('online', () => {
      noDelay();
      this.#setUp(true);
      this.#logger.info('xmpp component online');
      this.#core.flush();
    });
    xmpp.on('offline', () => this.#lost());
    xmpp.on('disconnect', () => this.#lost());
    xmpp.on('stanza', (stanza: XmlElement) => {
      // A bounce for a delivery still waiting for its ping answer is settled at once, ahead
      // of that answer (the server sent it first), not behind the inbound queue.
      if (this.#bouncesUnacked(stanza)) return;
      this.#inbox = this.#inbox.then(() => this.#onStanza(stanza));
    });
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const xmpp = this.#xmpp;
    if (!xmpp || this.#stopped) return;
    try {
      await xmpp.start();
    } catch (err) {
      // The reconnect module only covers connections that were once up; cover the first one.
      this.#logger.warn({ err }, 'xmpp server not reachable; retrying');
      this.#retry = setTimeout(() => void this.#connect(), this.#config.reconnectDelayMs);
    }
  }

  /** Disconnects for good. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const xmpp = this.#xmpp;
    if (!xmpp) return;
    xmpp.reconnect.stop();
    this.#setUp(false);
    try {
      await xmpp.stop();
    } catch (err) {
      this.#logger.debug({ err }, 'xmpp stop');
    }
  }

  isUp(): boolean {
    return this.#up;
  }

  /**
   * Sends the message and resolves once the XMPP server has taken it: neither Prosody nor
   * ejabberd offers XEP-0198 on component streams, so the bridge follows the message with an
   * XEP-0199 ping to the recipient's server on the same stream. The server handles a stream's
   * stanzas in order, so its answer (result or error alike) means the message was routed,
   * stored offline or bounced. A bounce (unknown recipient) that comes first rejects the
   * delivery for good; one that comes later dead-letters it (see #onBounce).
   */
  async deliver(msg: OutboundMessage, sender: Target): Promise<string> {
    if (!this.#up) throw new BridgeError('network-unavailable', 'not connected to the XMPP server');
    const refused = new Promise<never>((_resolve, reject) => this.#unacked.set(msg.id, reject));
    refused.catch(() => undefined);
    try {
      // Written at once (with the rest of this turn's stanzas, #joinTurn); the ping that
      // acknowledges it follows (#serverAck).
      const written = this.#send(toXmppStanza(msg, ghostJidFor(sender, this.#config.domain)));
      await Promise.race([Promise.all([written, this.#serverAck(msg.to.id)]), refused]);
    } finally {
      this.#unacked.delete(msg.id);
    }
    return msg.id;
  }

  /**
   * Resolves once the recipient's server has answered a ping sent after this message. The
   * messages of one turn share one ping, sent at the turn's end unless {@link PINGS_IN_FLIGHT}
   * are unanswered; then the messages written meanwhile share the next, sent as soon as one is
   * answered. A ping's answer acknowledges everything written before it.
   */
  #serverAck(toJid: string): Promise<void> {
    const server = toJid.slice(toJid.indexOf('@') + 1).split('/')[0]!;
    let ack = this.#acks.get(server);
    if (!ack) {
      ack = { pinging: 0, next: undefined };
      this.#acks.set(server, ack);
    }
    if (!ack.next) {
      ack.next = deferred();
      if (ack.pinging < PINGS_IN_FLIGHT) this.#joinTurn().pings.add(server);
    }
    return ack.next.promise;
  }

  /** Sends the ping that the messages written since the last one wait for. */
  #sendPing(server: string): void {
    const ack = this.#acks.get(server);
    const waiting = ack?.next;
    if (!ack || !waiting || ack.pinging >= PINGS_IN_FLIGHT) return;
    ack.next = undefined;
    ack.pinging += 1;
    this.#ping(server)
      .then(waiting.resolve, waiting.reject)
      .finally(() => {
        ack.pinging -= 1;
        if (ack.next && this.#acks.get(server) === ack) this.#joinTurn().pings.add(server);
      });
  }

  /**
   * Stanzas written in one turn of the event loop leave in one socket write, followed by that
   * turn's pings: the socket is corked at the first and uncorked at the start of the next turn.
   * One write of many stanzas costs the server one read and one parse pass instead of one per
   * stanza (with Nagle off, each write is a TCP segment of its own).
   */
  #joinTurn(): Turn {
    if (this.#turn) return this.#turn;
    const socket = (this.#xmpp as unknown as { socket?: Socket | null } | undefined)?.socket;
    socket?.cork();
    const turn: Turn = { pings: new Set() };
    this.#turn = turn;
    setImmediate(() => {
      this.#turn = undefined;
      for (const server of turn.pings) this.#sendPing(server);
      socket?.uncork();
    });
    return turn;
  }

  async #ping(server: string): Promise<void> {
    const xmpp = this.#xmpp;
    if (!xmpp) throw new BridgeError('network-unavailable', 'not connected to the XMPP server');
    const ping = xml(
      'iq',
      { type: 'get', to: server, from: this.#config.domain },
      xml('ping', { xmlns: 'urn:xmpp:ping' }),
    );
    try {
      await xmpp.iqCaller.request(ping, ACK_TIMEOUT_MS);
    } catch (err) {
      // An error answer is an answer: the server has processed everything sent before it.
      if ((err as { name?: string }).name === 'StanzaError') return;
      throw new BridgeError('network-unavailable', 'the XMPP server did not acknowledge', {
        cause: err,
      });
    }
  }

  #bouncesUnacked(stanza: XmlElement): boolean {
    if (!stanza.is('message') || stanza.attrs['type'] !== 'error') return false;
    const reject = this.#unacked.get(stanza.attrs['id'] ?? '');
    if (!reject) return false;
    reject(bounceError(stanza));
    return true;
  }

  /** The connection is gone: deliveries waiting for the server's answer fail now. */
  #lost(): void {
    this.#setUp(false);
    // Pings in flight on the lost stream are never answered: the next stream starts afresh.
    for (const ack of this.#acks.values()) {
      ack.next?.reject(
        new BridgeError('network-unavailable', 'the XMPP server connection was lost'),
      );
    }
    this.#acks.clear();
    for (const reject of this.#unacked.values()) {
      reject(new BridgeError('network-unavailable', 'the XMPP server connection was lost'));
    }
    this.#unacked.clear();
  }

  /**
   * An error bounced for a message the bridge sent. Permanent errors (unknown recipient...)
   * fail the delivery, or dead-letter it if it already counted as delivered; the original
   * sender is told either way. Temporary ones (`wait`) are retried.
   */
  async #onBounce(stanza: XmlElement): Promise<void> {
    const id = stanza.attrs['id'];
    if (!id || bounceError(stanza).code !== 'delivery-rejected') return;
    const entry = await this.#store.findDelivered('xmpp', id);
    if (entry && (await this.#store.stateOf(entry.id)) === 'delivered') {
      await this.#core.bounced(entry);
    }
  }

  /** Tells an XMPP user a remote party read their message (XEP-0333). */
  async displayed(to: Address, about: Target, stanzaId: string): Promise<void> {
    if (!this.#up) return;
    await this.#send(toXmppDisplayed(ghostJidFor(about, this.#config.domain), to.id, stanzaId));
  }

  async notify(to: Address, about: Target, text: string): Promise<void> {
    await this.#send(toXmppNotice(ghostJidFor(about, this.#config.domain), to.id, text));
  }

  async delivered(
    to: Address,
    about: Target,
    nativeId: string,
    endToBridge: boolean,
  ): Promise<void> {
    await this.#send(
      toXmppReceipt(ghostJidFor(about, this.#config.domain), to.id, nativeId, endToBridge),
    );
  }

  /** Shows a remote user typing (XEP-0085). */
  async typing(to: Address, about: Target, typing: boolean): Promise<void> {
    if (!this.#up) return;
    await this.#send(toXmppChatState(ghostJidFor(about, this.#config.domain), to.id, typing));
  }

  async #send(stanza: XmlElement): Promise<void> {
    const xmpp = this.#xmpp;
    if (!xmpp || !this.#up)
      throw new BridgeError('network-unavailable', 'not connected to the XMPP server');
    this.#joinTurn();
    try {
      await xmpp.send(stanza);
    } catch (err) {
      throw new BridgeError('network-unavailable', 'sending to the XMPP server failed', {
        cause: err,
      });
    }
  }

  #setUp(up: boolean): void {
    this.#up = up;
    this.#metrics.setUp('xmpp', up);
  }

  async #onStanza(stanza: XmlElement): Promise<void> {
    try {
      await this.#handle(stanza);
    } catch (err) {
      await this.#refuse(stanza, err);
    }
  }

  /** Answers a stanza that could not be handled with the matching error stanza. */
  async #refuse(stanza: XmlElement, err: unknown): Promise<void> {
    if (BridgeError.is(err)) {
      if (stanza.attrs['type'] !== 'error') await this.#reply(toXmppError(stanza, err));
      return;
    }
    this.#logger.error({ err }, 'unexpected failure handling a stanza');
    if (stanza.attrs['type'] !== 'error') {
      await this.#reply(
        toXmppError(stanza, new BridgeError('network-unavailable', 'internal bridge error')),
      );
    }
  }

  async #handle(stanza: XmlElement): Promise<void> {
    if (stanza.is('message') && stanza.attrs['type'] === 'error') {
      await this.#onBounce(stanza);
      return;
    }
    if (stanza.is('presence') && stanza.attrs['type'] === 'subscribe' && stanza.attrs['from']) {
      // Anyone may add a remote user to their roster; the component answers for its ghosts.
      await this.#reply(
        xml('presence', { type: 'subscribed', from: stanza.attrs['to'], to: stanza.attrs['from'] }),
      );
      return;
    }
    if (stanza.is('iq')) {
      if (stanza.attrs['type'] === 'get' || stanza.attrs['type'] === 'set') {
        await this.#reply(
          toXmppError(
            stanza,
            new BridgeError('unsupported-network', 'this bridge answers no queries'),
          ),
        );
      }
      return;
    }
    let inbound;
    try {
      inbound = fromXmppStanza(stanza, this.#config.domain);
    } catch (err) {
      if (BridgeError.is(err)) this.#metrics.failed('xmpp', err.code);
      throw err;
    }
    switch (inbound.kind) {
      case 'message': {
        // The next stanza need not wait until this one is stored (the core stamps the order
        // when called, and stores what arrives together in one commit); a bounded number wait.
        if (this.#accepting.size >= MAX_ACCEPTING) await Promise.race(this.#accepting);
        const accepting = this.#core
          .accept('xmpp', inbound.message)
          .then(
            () => undefined,
            (err: unknown) => this.#refuse(stanza, err),
          )
          .finally(() => this.#accepting.delete(accepting));
        this.#accepting.add(accepting);
        return;
      }
      case 'typing':
        this.#events.typing?.(inbound.from, inbound.target, inbound.typing);
        return;
      case 'presence':
        if (!(await this.#store.presenceOptedOut(`xmpp:${inbound.from.id}`))) {
          this.#events.presence?.(inbound.from, inbound.available);
        }
        return;
      case 'command':
        await this.#command(inbound.from, inbound.text);
        return;
      case 'displayed':
        this.#events.displayed?.(inbound.from, inbound.target, inbound.displayedId);
        return;
      case 'receipt':
      case 'ignored':
        return;
    }
  }

  async #command(from: Address, text: string): Promise<void> {
    const reply = await presenceCommand(this.#store, `xmpp:${from.id}`, text);
    await this.#reply(toXmppNotice(this.#config.domain, from.id, reply));
  }

  async #reply(stanza: XmlElement): Promise<void> {
    try {
      await this.#send(stanza);
    } catch (err) {
      this.#logger.debug({ err }, 'could not answer a stanza');
    }
  }

  /** Shows a remote user's presence to an XMPP user. */
  async presence(to: Address, about: Target, available: boolean): Promise<void> {
    if (!this.#up) return;
    await this.#send(toXmppPresence(ghostJidFor(about, this.#config.domain), to.id, available));
  }
}

/** What an error bounced for a delivered message means for that delivery. */
function bounceError(stanza: XmlElement): BridgeError {
  return stanza.getChild('error')?.attrs['type'] === 'wait'
    ? new BridgeError('network-unavailable', 'the XMPP recipient is not reachable now')
    : new BridgeError('delivery-rejected', 'the XMPP recipient refused the message');
}

/** The `presence on|off` command every network's users can send the bridge. */
export async function presenceCommand(
  store: BridgeStore,
  userKey: string,
  text: string,
): Promise<string> {
  const words = text
    .trim()
    .toLowerCase()
    .replace(/^!switchboard\s+/, '')
    .split(/\s+/);
  if (words[0] === 'presence' && (words[1] === 'off' || words[1] === 'on')) {
    await store.setPresenceOptOut(userKey, words[1] === 'off');
    return words[1] === 'off'
      ? 'Your presence is no longer shared with other networks.'
      : 'Your presence is shared with the people you talk to on other networks.';
  }
  return 'Commands: "presence off" stops sharing your presence with other networks; "presence on" shares it again.';
}
