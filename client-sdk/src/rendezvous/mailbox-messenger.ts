import { toBase64Url } from '../bytes.js';
import type { Ed25519 } from '../crypto.js';
import { MessageType, decodeEnvelope } from '../envelope.js';
import { SwitchboardError } from '../errors.js';
import { ProviderClient } from '../provider/client.js';
import type { HttpClient } from '../provider/http.js';
import type { MailboxSubscription, PushConnector } from '../provider/push.js';
import type { ReachEntry, SignedCard } from './card.js';
import { cardFromText, openCard } from './card.js';
import type { CardChannel, Connection, Rendezvous } from './connections.js';
import { replyEnvelope } from './connections.js';

export interface MailboxMessengerOptions {
  readonly rendezvous: Rendezvous;
  readonly http: HttpClient;
  readonly ed25519: Ed25519;
  readonly nowSeconds?: () => number;
}

export interface MailboxReceiveResult {
  readonly messages: ReadonlyArray<{ readonly contactId: string; readonly plaintext: Uint8Array }>;
  /** Messages dropped: unknown sender, bad signature, replay, undecryptable. */
  readonly discarded: number;
  /** Connections completed by reply cards found in the mailbox. */
  readonly completed: ReadonlyArray<Connection>;
}

/**
 * Moves unregulated-mode envelopes through provider mailboxes: delivers to the contact's
 * mailboxes (any that accepts), pulls ours with a signed request, opens what it finds, discards
 * what does not verify and acknowledges everything it has handled.
 */
export class MailboxMessenger {
  readonly #o: MailboxMessengerOptions;

  constructor(options: MailboxMessengerOptions) {
    this.#o = options;
  }

  #client(baseUrl: string): ProviderClient {
    return new ProviderClient({
      baseUrl,
      http: this.#o.http,
      ed25519: this.#o.ed25519,
      ...(this.#o.nowSeconds ? { nowSeconds: this.#o.nowSeconds } : {}),
    });
  }

  async #deliver(reach: ReadonlyArray<ReachEntry>, envelope: Uint8Array): Promise<string> {
    let last: unknown;
    for (const r of reach) {
      if (r.kind !== 'mailbox') continue;
      try {
        await this.#client(r.provider).deliver(r.address, envelope);
        return r.provider;
      } catch (err) {
        last = err;
      }
    }
    if (last instanceof SwitchboardError) throw last;
    throw new SwitchboardError(
      'network-failed',
      'none of the contact’s mailboxes accepted the message',
      {
        cause: last,
      },
    );
  }

  /** Seals `plaintext` for a contact and delivers it; returns the provider that took it. */
  async send(contactId: string, plaintext: Uint8Array): Promise<string> {
    const c = await this.#o.rendezvous.connection(contactId);
    return this.#deliver(c.theirReach, await this.#o.rendezvous.seal(contactId, plaintext));
  }

  /**
   * Delivers our reply card to the offer owner's mailbox (when the card was not shown in
   * person), followed by our prekey bundle so the offer side can open the libsignal session.
   */
  async sendReply(offerText: string, reply: SignedCard, connection: Connection): Promise<string> {
    const offer = openCard(cardFromText(offerText), this.#now());
    const provider = await this.#deliver(
      offer.card.reach,
      replyEnvelope(reply, connection.ownContactId),
    );
    await this.sendBundle(connection.contactId);
    return provider;
  }

  /**
   * Delivers our prekey bundle (the replier's bootstrap) to the contact's mailboxes, if the
   * connection still needs it. Call after an in-person exchange; {@link sendReply} does it.
   */
  async sendBundle(contactId: string): Promise<string | undefined> {
    const envelope = await this.#o.rendezvous.bundleEnvelope(contactId);
    if (!envelope) return undefined;
    const c = await this.#o.rendezvous.connection(contactId);
    return this.#deliver(c.theirReach, envelope);
  }

  #now(): number {
    return (this.#o.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))();
  }

  async #drain(
    seed: Uint8Array,
    reach: ReadonlyArray<ReachEntry>,
    handle: (envelope: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const publicKey = this.#o.ed25519.publicKeyOf(seed);
    const seen = new Set<string>();
    for (const r of reach) {
      if (r.kind !== 'mailbox') continue;
      const key = `${r.provider} ${toBase64Url(r.address)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const client = this.#client(r.provider);
      const items = await client.receive({ seed, publicKey }, r.address);
      // Handled messages are acknowledged in one request, also when a later one fails.
      const handled: string[] = [];
      let failure: { readonly err: unknown } | undefined;
      for (const item of items) {
        try {
          await handle(item.ciphertext);
        } catch (err) {
          failure = { err };
          break;
        }
        handled.push(item.messageId);
      }
      if (handled.length > 0) await client.acknowledgeMany({ seed, publicKey }, r.address, handled);
      if (failure) throw failure.err;
    }
  }

  /** Pulls and opens messages from every mailbox of every connection (or just `contactId`). */
  async receive(
    options: { readonly contactId?: string; readonly channel?: CardChannel } = {},
  ): Promise<MailboxReceiveResult> {
    const rv = this.#o.rendezvous;
    const connections =
      options.contactId === undefined
        ? await rv.connections()
        : [await rv.connection(options.contactId)];
    const messages: Array<{ contactId: string; plaintext: Uint8Array }> = [];
    const completed: Connection[] = [];
    let discarded = 0;
    const handle = async (bytes: Uint8Array): Promise<void> => {
      try {
        const env = decodeEnvelope(bytes);
        if (env.type === MessageType.CardReply) {
          completed.push(await rv.completeExchange(env.ciphertext, options.channel ?? 'remote'));
          return;
        }
        const opened = await rv.open(bytes);
        if (!opened.setup) messages.push(opened);
      } catch (err) {
        if (!(err instanceof SwitchboardError)) throw err;
        discarded++;
      }
    };
    for (const c of connections) {
      const seed = await rv.mailboxSeed(c.contactId);
      if (seed) await this.#drain(seed, c.ownReach, handle);
    }
    if (options.contactId === undefined) {
      // Replies to our open offers arrive at the offer's mailbox.
      for (const offer of await rv.pendingOffers()) {
        const r = await this.collectReplies(offer, options.channel ?? 'remote');
        messages.push(...r.messages);
        completed.push(...r.completed);
        discarded += r.discarded;
      }
    }
    return { messages, discarded, completed };
  }

  /** Collects reply cards (and any early messages) arriving at a pending offer's mailbox. */
  async collectReplies(
    offerText: string,
    channel: CardChannel = 'remote',
  ): Promise<MailboxReceiveResult> {
    const rv = this.#o.rendezvous;
    const seed = await rv.offerMailboxSeed(offerText);
    if (!seed) throw new SwitchboardError('invalid-input', 'that card offers no mailbox');
    const offer = openCard(cardFromText(offerText), this.#now());
    const messages: Array<{ contactId: string; plaintext: Uint8Array }> = [];
    const completed: Connection[] = [];
    let discarded = 0;
    await this.#drain(seed, offer.card.reach, async (bytes) => {
      try {
        const env = decodeEnvelope(bytes);
        if (env.type === MessageType.CardReply) {
          completed.push(await rv.completeExchange(env.ciphertext, channel));
        } else {
          const opened = await rv.open(bytes);
          if (!opened.setup) messages.push(opened);
        }
      } catch (err) {
        if (!(err instanceof SwitchboardError)) throw err;
        discarded++;
      }
    });
    return { messages, discarded, completed };
  }

  /**
   * Receives without polling: subscribes to push delivery on every mailbox of every connection
   * and pending offer, and runs {@link receive} whenever a provider pushes (and once at the
   * start, for what arrived before), one at a time. Each receive that found anything goes to
   * `onResult`. The watch ends when any subscription or receive fails (`closed` says why) or
   * on `close()`; connections made later need a new watch.
   */
  async watch(
    connector: PushConnector,
    onResult: (result: MailboxReceiveResult) => void,
    options: { readonly channel?: CardChannel } = {},
  ): Promise<MailboxSubscription> {
    const rv = this.#o.rendezvous;
    const mailboxes = new Map<string, { seed: Uint8Array; reach: ReachEntry }>();
    const add = (seed: Uint8Array | undefined, reach: ReadonlyArray<ReachEntry>): void => {
      if (!seed) return;
      for (const r of reach) {
        if (r.kind === 'mailbox')
          mailboxes.set(`${r.provider} ${toBase64Url(r.address)}`, { seed, reach: r });
      }
    };
    for (const c of await rv.connections()) add(await rv.mailboxSeed(c.contactId), c.ownReach);
    for (const offer of await rv.pendingOffers()) {
      add(await rv.offerMailboxSeed(offer), openCard(cardFromText(offer), this.#now()).card.reach);
    }
    let settle: (reason: Error | undefined) => void = () => undefined;
    const closed = new Promise<Error | undefined>((resolve) => (settle = resolve));
    const subscriptions: MailboxSubscription[] = [];
    let ended = false;
    const end = (reason: Error | undefined): void => {
      if (ended) return;
      ended = true;
      for (const s of subscriptions) s.close();
      settle(reason);
    };
    // One receive at a time; a push during one asks for one more afterwards.
    let running = false;
    let again = false;
    const pull = (): void => {
      if (ended) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      this.receive(options.channel ? { channel: options.channel } : {}).then(
        (result) => {
          running = false;
          if (ended) return;
          if (result.messages.length + result.completed.length + result.discarded > 0) {
            onResult(result);
          }
          if (again) {
            again = false;
            pull();
          }
        },
        (err: unknown) => end(err instanceof Error ? err : new Error(String(err))),
      );
    };
    try {
      for (const { seed, reach } of mailboxes.values()) {
        if (reach.kind !== 'mailbox') continue;
        const sub = await this.#client(reach.provider).subscribe(
          connector,
          { seed, publicKey: this.#o.ed25519.publicKeyOf(seed) },
          reach.address,
          pull,
        );
        subscriptions.push(sub);
        void sub.closed.then((reason) => end(reason));
      }
    } catch (err) {
      end(undefined);
      throw err;
    }
    pull();
    return { close: () => end(undefined), closed };
  }
}
