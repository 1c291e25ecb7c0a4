import { Aes256GcmSiv, PrivateKey, PublicKey, hkdf } from '@signalapp/libsignal-client';
import {
  ByteReader,
  ByteWriter,
  concatBytes,
  copyBytes,
  fromBase64,
  randomBytes,
  toBase64,
  toBase64Url,
  utf8,
} from '../bytes.js';
import { MessageType, decodeEnvelope, encodeEnvelope } from '../envelope.js';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage } from '../storage.js';
import type { Ed25519 } from '../crypto.js';
import type { ReachEntry, SignedCard } from './card.js';
import {
  contactSessions,
  contactStoragePrefix,
  createContactBundle,
  decodeContactBundle,
  initContactIdentity,
  CARD_DEVICE_ID,
} from './contact-session.js';
import {
  cardFromText,
  cardHash,
  cardToText,
  contactIdFor,
  mailboxAddressFor,
  openCard,
  signCard,
} from './card.js';

/** How the user obtained a card: scanned face to face, or over some other channel. */
export type CardChannel = 'in-person' | 'remote';

export interface ReachOptions {
  /** Provider base URLs at which to open a mailbox for this connection. */
  readonly mailboxProviders?: ReadonlyArray<string>;
  /** Network addresses (sip:, xmpp:, matrix:, https:) where this connection can be reached. */
  readonly networkAddresses?: ReadonlyArray<string>;
  readonly label?: string;
}

/** A completed connection with one contact. Public view; secrets stay in storage. */
export interface Connection {
  /** Their contact id (`card:<id>` in envelopes they send). */
  readonly contactId: string;
  /** Our contact id for them (`card:<id>` in envelopes we send). */
  readonly ownContactId: string;
  readonly label: string;
  readonly channel: CardChannel;
  readonly theirReach: ReadonlyArray<ReachEntry>;
  readonly ownReach: ReadonlyArray<ReachEntry>;
  readonly theirContactKey: Uint8Array;
  readonly establishedAt: number;
}

interface StoredOffer {
  readonly cardId: string;
  readonly cardBytes: string;
  readonly contactPrivate: string;
  readonly conversationPrivate: string;
  readonly expiresAt: number;
  readonly used: boolean;
  /** Ed25519 seed of the mailbox key for this connection, when a mailbox was offered. */
  readonly mailboxSeed?: string | undefined;
}

interface StoredConnection {
  readonly contactId: string;
  readonly ownContactId: string;
  readonly label: string;
  readonly channel: CardChannel;
  readonly theirReach: ReadonlyArray<StoredReach>;
  readonly ownReach: ReadonlyArray<StoredReach>;
  readonly theirContactKey: string;
  readonly ownContactPrivate: string;
  readonly ownMailboxSeed?: string | undefined;
  /** Chain key for message `nextSendCounter` (hash ratchet: used keys are gone). */
  readonly sendChain: string;
  readonly nextSendCounter: number;
  /** Chain key for message `receiveNext`. */
  readonly receiveChain: string;
  readonly receiveNext: number;
  /** Message secrets of skipped (not yet received) counters below `receiveNext`. */
  readonly skipped: Readonly<Record<string, string>>;
  readonly establishedAt: number;
  /** Which side of the exchange we were: the replier publishes the libsignal bundle. */
  readonly role?: 'offer' | 'reply' | undefined;
  /** Replier only: our libsignal prekey bundle for this contact (bootstrap payload). */
  readonly ownBundle?: string | undefined;
  /** A libsignal message from this contact was received: card messages are refused from now on. */
  readonly signalSeen?: boolean | undefined;
}

type StoredReach =
  | { readonly kind: 'mailbox'; readonly address: string; readonly provider: string }
  | { readonly kind: 'network'; readonly uri: string };

/** How far ahead of the next expected counter a message may be (bounds work per message). */
const MAX_SKIP = 1000;
/** How many skipped message secrets are kept for late, out-of-order messages. */
const MAX_SKIPPED = 1000;
const MESSAGE_CONTEXT = utf8('switchboard-card-message-v1');
const KDF_INFO = utf8('switchboard-rendezvous-v1');

function toStoredReach(r: ReachEntry): StoredReach {
  return r.kind === 'mailbox'
    ? { kind: 'mailbox', address: toBase64Url(r.address), provider: r.provider }
    : r;
}

function fromStoredReach(r: StoredReach): ReachEntry {
  return r.kind === 'mailbox' ? { ...r, address: fromBase64(r.address)! } : r;
}

function b64(bytes: Uint8Array): string {
  return toBase64(bytes);
}

function unb64(text: string): Uint8Array<ArrayBuffer> {
  const b = fromBase64(text);
  if (!b) throw new SwitchboardError('storage-failed', 'stored connection state is corrupt');
  return b;
}

/**
 * Derives the two directional chain keys. Three agreements bind both contact keys and both
 * ephemeral conversation keys (X3DH-style); the salt binds the exact offer and reply bytes.
 */
function deriveChains(
  dh1: Uint8Array,
  dh2: Uint8Array,
  dh3: Uint8Array,
  offerHash: Uint8Array,
  replyHash: Uint8Array,
): { offerToReply: Uint8Array<ArrayBuffer>; replyToOffer: Uint8Array<ArrayBuffer> } {
  const okm = hkdf(64, concatBytes(dh1, dh2, dh3), KDF_INFO, concatBytes(offerHash, replyHash));
  return { offerToReply: okm.slice(0, 32), replyToOffer: okm.slice(32, 64) };
}

/**
 * One step of the symmetric hash ratchet: the message secret (AES key + nonce) for this
 * counter and the chain key for the next. The old chain key is discarded by the caller, so a
 * later compromise cannot recompute keys of messages already sent or received.
 */
function ratchet(chain: Uint8Array): {
  secret: Uint8Array<ArrayBuffer>;
  next: Uint8Array<ArrayBuffer>;
} {
  const c = copyBytes(chain);
  return {
    secret: hkdf(44, c, utf8('switchboard-card-message-key'), null),
    next: hkdf(32, c, utf8('switchboard-card-chain-key'), null),
  };
}

export interface RendezvousOptions {
  readonly storage: KeyValueStorage;
  /** Needed to create mailbox keys (one Ed25519 key per connection). */
  readonly ed25519?: Ed25519;
  /** Seconds since the Unix epoch. */
  readonly nowSeconds?: () => number;
}

/**
 * Unregulated mode: identities that are only key pairs, one fresh key pair per contact,
 * connected by exchanging signed rendez-vous cards (docs/rendezvous-card.md).
 *
 * @example
 * const alice = new Rendezvous({ storage: new MemoryStorage() });
 * const offer = await alice.createOffer({ mailboxProviders: ['https://p1.example'] });
 * const { reply } = await bob.acceptOffer(offer.text, 'in-person', { mailboxProviders: [...] });
 * await alice.completeExchange(reply.text, 'in-person');
 */
export class Rendezvous {
  readonly #storage: KeyValueStorage;
  readonly #now: () => number;
  readonly #ed25519: Ed25519 | undefined;

  constructor(options: RendezvousOptions) {
    this.#storage = options.storage;
    this.#ed25519 = options.ed25519;
    this.#now = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Reach entries for a new connection. Every mailbox of one connection shares one fresh
   * Ed25519 key; its address is the base64url SHA-256 of the raw public key (provider API).
   */
  async #reach(options: ReachOptions): Promise<{ reach: ReachEntry[]; mailboxSeed?: string }> {
    const providers = options.mailboxProviders ?? [];
    let address: Uint8Array | undefined;
    let mailboxSeed: string | undefined;
    if (providers.length > 0) {
      if (!this.#ed25519) {
        throw new SwitchboardError('invalid-input', 'mailboxes need an Ed25519 implementation');
      }
      const pair = this.#ed25519.generate();
      address = await mailboxAddressFor(pair.publicKey);
      mailboxSeed = b64(pair.seed);
    }
    const reach: ReachEntry[] = [
      ...providers.map((provider): ReachEntry => ({
        kind: 'mailbox',
        address: address!,
        provider,
      })),
      ...(options.networkAddresses ?? []).map((uri): ReachEntry => ({ kind: 'network', uri })),
    ];
    if (reach.length === 0) {
      throw new SwitchboardError(
        'invalid-input',
        'give at least one mailbox provider or network address where the contact can reach you',
      );
    }
    return mailboxSeed === undefined ? { reach } : { reach, mailboxSeed };
  }

  /** Creates and stores a new offer card, valid for `ttlSeconds` (default 7 days). */
  async createOffer(
    options: ReachOptions & { readonly ttlSeconds?: number },
  ): Promise<SignedCard & { readonly text: string }> {
    const ttl = options.ttlSeconds ?? 7 * 24 * 3600;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > 365 * 24 * 3600) {
      throw new SwitchboardError('invalid-input', 'card lifetime must be 60 seconds to 1 year');
    }
    const contact = PrivateKey.generate();
    const conversation = PrivateKey.generate();
    const contactKey = contact.getPublicKey().serialize();
    const now = this.#now();
    const own = await this.#reach(options);
    const signed = signCard(
      {
        version: 1,
        kind: 'offer',
        cardId: randomBytes(16),
        issuedAt: now,
        expiresAt: now + ttl,
        contactKey,
        conversationKey: conversation.getPublicKey().serialize(),
        label: options.label ?? '',
        reach: own.reach,
      },
      contact,
    );
    const offer: StoredOffer = {
      mailboxSeed: own.mailboxSeed,
      cardId: toBase64Url(signed.card.cardId),
      cardBytes: b64(signed.bytes),
      contactPrivate: b64(contact.serialize()),
      conversationPrivate: b64(conversation.serialize()),
      expiresAt: signed.card.expiresAt,
      used: false,
    };
    await this.#storage.set(`rendezvous/offer/${offer.cardId}`, JSON.stringify(offer), {
      secret: true,
    });
    return { ...signed, text: cardToText(signed.bytes) };
  }

  /**
   * Accepts someone's offer card (text or bytes): verifies it, creates our per-contact key and
   * the reply card that completes the exchange, and records the connection.
   */
  async acceptOffer(
    input: string | Uint8Array,
    channel: CardChannel,
    options: ReachOptions & { readonly ttlSeconds?: number },
  ): Promise<{
    readonly connection: Connection;
    readonly reply: SignedCard & { readonly text: string };
  }> {
    const { offer, contactId } = await this.#openOffer(input);
    const contact = PrivateKey.generate();
    const conversation = PrivateKey.generate();
    const contactKey = contact.getPublicKey().serialize();
    const now = this.#now();
    const ttl = options.ttlSeconds ?? 7 * 24 * 3600;
    const offerHash = await cardHash(offer.bytes);
    const own = await this.#reach(options);
    const reply = signCard(
      {
        version: 1,
        kind: 'reply',
        cardId: randomBytes(16),
        issuedAt: now,
        expiresAt: Math.min(now + ttl, 2 ** 32 - 1),
        contactKey,
        conversationKey: conversation.getPublicKey().serialize(),
        replyTo: offerHash,
        label: options.label ?? '',
        reach: own.reach,
      },
      contact,
    );
    const theirContact = PublicKey.deserialize(copyBytes(offer.card.contactKey));
    const theirConversation = PublicKey.deserialize(copyBytes(offer.card.conversationKey));
    const chains = deriveChains(
      conversation.agree(theirContact),
      contact.agree(theirConversation),
      conversation.agree(theirConversation),
      offerHash,
      await cardHash(reply.bytes),
    );
    const ownContactId = await contactIdFor(contactKey);
    const ownBundle = await this.#initSignal(
      contactId,
      ownContactId,
      contact,
      offer.card.contactKey,
      true,
    );
    const connection = await this.#saveConnection({
      role: 'reply',
      ownBundle: ownBundle && b64(ownBundle),
      contactId,
      ownContactId,
      label: offer.card.label,
      channel,
      theirReach: offer.card.reach.map(toStoredReach),
      ownReach: reply.card.reach.map(toStoredReach),
      theirContactKey: b64(offer.card.contactKey),
      ownContactPrivate: b64(contact.serialize()),
      ownMailboxSeed: own.mailboxSeed,
      sendChain: b64(chains.replyToOffer),
      receiveChain: b64(chains.offerToReply),
      nextSendCounter: 0,
      receiveNext: 0,
      skipped: {},
      establishedAt: now,
    });
    return { connection, reply: { ...reply, text: cardToText(reply.bytes) } };
  }

  /** Opens an offer card to accept: an error for a reply card or one already connected. */
  async #openOffer(
    input: string | Uint8Array,
  ): Promise<{ offer: ReturnType<typeof openCard>; contactId: string }> {
    const offer = openCard(typeof input === 'string' ? cardFromText(input) : input, this.#now());
    if (offer.card.kind !== 'offer') {
      throw new SwitchboardError(
        'invalid-card',
        'this is a reply card; it completes an exchange you started',
      );
    }
    const contactId = await contactIdFor(offer.card.contactKey);
    if (await this.#storage.get(`rendezvous/connection/${contactId}`)) {
      throw new SwitchboardError(
        'card-already-used',
        'you are already connected through this card',
      );
    }
    return { offer, contactId };
  }

  /**
   * Completes an exchange we started: `input` must be a reply to one of our own unexpired,
   * unused offers. A second reply to the same offer (a forwarded card) is refused.
   */
  async completeExchange(input: string | Uint8Array, channel: CardChannel): Promise<Connection> {
    const reply = openCard(typeof input === 'string' ? cardFromText(input) : input, this.#now());
    if (reply.card.kind !== 'reply' || !reply.card.replyTo) {
      throw new SwitchboardError('invalid-card', 'this is an offer card; accept it instead');
    }
    const offer = await this.#answeredOffer(reply.card.replyTo);
    // A reply reusing the key of an existing contact must not replace that connection (or
    // its libsignal session): each connection has its own key.
    if (
      await this.#storage.get(`rendezvous/connection/${await contactIdFor(reply.card.contactKey)}`)
    ) {
      throw new SwitchboardError(
        'card-already-used',
        'this reply reuses the key of a contact you are already connected to',
      );
    }
    // Mark the offer used first: a crash after this point loses the connection, never
    // lets a second reply in.
    await this.#storage.set(
      `rendezvous/offer/${offer.cardId}`,
      JSON.stringify({ ...offer, used: true } satisfies StoredOffer),
      { secret: true },
    );
    const contact = PrivateKey.deserialize(unb64(offer.contactPrivate));
    const conversation = PrivateKey.deserialize(unb64(offer.conversationPrivate));
    const theirContact = PublicKey.deserialize(copyBytes(reply.card.contactKey));
    const theirConversation = PublicKey.deserialize(copyBytes(reply.card.conversationKey));
    const chains = deriveChains(
      // Same order as acceptOffer: (offerer contact, replier conversation) pairs swap sides.
      contact.agree(theirConversation),
      conversation.agree(theirContact),
      conversation.agree(theirConversation),
      reply.card.replyTo,
      await cardHash(reply.bytes),
    );
    const offerCard = openCard(unb64(offer.cardBytes), this.#now());
    const contactId = await contactIdFor(reply.card.contactKey);
    const ownContactId = await contactIdFor(contact.getPublicKey().serialize());
    await this.#initSignal(contactId, ownContactId, contact, reply.card.contactKey, false);
    return this.#saveConnection({
      role: 'offer',
      contactId,
      ownContactId,
      label: reply.card.label,
      channel,
      theirReach: reply.card.reach.map(toStoredReach),
      ownReach: offerCard.card.reach.map(toStoredReach),
      theirContactKey: b64(reply.card.contactKey),
      ownContactPrivate: offer.contactPrivate,
      ownMailboxSeed: offer.mailboxSeed,
      sendChain: b64(chains.offerToReply),
      receiveChain: b64(chains.replyToOffer),
      nextSendCounter: 0,
      receiveNext: 0,
      skipped: {},
      establishedAt: this.#now(),
    });
  }

  /** Our stored offer a reply answers (by card hash): an error if unknown, used or expired. */
  async #answeredOffer(replyTo: Uint8Array): Promise<StoredOffer> {
    let offer: StoredOffer | undefined;
    for (const key of await this.#storage.list('rendezvous/offer/')) {
      const text = await this.#storage.get(key);
      if (!text) continue;
      const candidate = JSON.parse(text) as StoredOffer;
      const hash = await cardHash(unb64(candidate.cardBytes));
      if (toBase64(hash) === toBase64(replyTo)) offer = candidate;
    }
    if (!offer) {
      throw new SwitchboardError(
        'card-unknown',
        'this reply answers a card this device did not issue',
      );
    }
    if (offer.used) {
      throw new SwitchboardError(
        'card-already-used',
        'your card was already answered by someone else; if you did not expect this, the card was forwarded',
      );
    }
    if (this.#now() >= offer.expiresAt) {
      throw new SwitchboardError(
        'card-expired',
        'your card expired before this reply arrived; make a new one',
      );
    }
    return offer;
  }

  /**
   * Creates the connection's libsignal identity (our per-contact key, theirs pinned) and, for
   * the replier, the prekey bundle. Leftovers of an interrupted earlier attempt are removed
   * first; the connection record written afterwards is what makes the connection exist.
   */
  async #initSignal(
    contactId: string,
    ownContactId: string,
    ownContact: PrivateKey,
    theirContactKey: Uint8Array,
    withBundle: boolean,
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    for (const key of await this.#storage.list(contactStoragePrefix(contactId))) {
      await this.#storage.delete(key);
    }
    const { stores } = contactSessions(this.#storage, contactId, ownContactId);
    await initContactIdentity(stores, ownContact, theirContactKey, contactId);
    return withBundle ? createContactBundle(stores, ownContact, this.#now() * 1000) : undefined;
  }

  async #saveConnection(c: StoredConnection): Promise<Connection> {
    await this.#storage.set(`rendezvous/connection/${c.contactId}`, JSON.stringify(c), {
      secret: true,
    });
    return toPublic(c);
  }

  async #load(contactId: string): Promise<StoredConnection> {
    const text = await this.#storage.get(`rendezvous/connection/${contactId}`);
    if (!text) throw new SwitchboardError('no-session', 'no connection with this contact');
    return JSON.parse(text) as StoredConnection;
  }

  async connections(): Promise<Connection[]> {
    const out: Connection[] = [];
    for (const key of await this.#storage.list('rendezvous/connection/')) {
      const text = await this.#storage.get(key);
      if (text) out.push(toPublic(JSON.parse(text) as StoredConnection));
    }
    return out;
  }

  async connection(contactId: string): Promise<Connection> {
    return toPublic(await this.#load(contactId));
  }

  /**
   * The Ed25519 seed of our mailbox for a connection (signs receive requests at the providers
   * in `ownReach`). Secret: never log or display it.
   */
  async mailboxSeed(contactId: string): Promise<Uint8Array | undefined> {
    const c = await this.#load(contactId);
    return c.ownMailboxSeed === undefined ? undefined : unb64(c.ownMailboxSeed);
  }

  /** Text forms of our offers that are unexpired, unanswered and have a mailbox. */
  async pendingOffers(): Promise<string[]> {
    const out: string[] = [];
    for (const key of await this.#storage.list('rendezvous/offer/')) {
      const text = await this.#storage.get(key);
      if (!text) continue;
      const offer = JSON.parse(text) as StoredOffer;
      if (!offer.used && offer.mailboxSeed !== undefined && this.#now() < offer.expiresAt) {
        out.push(cardToText(unb64(offer.cardBytes)));
      }
    }
    return out;
  }

  /** Mailbox seed of a pending offer (to collect the reply card from our own mailbox). */
  async offerMailboxSeed(cardText: string): Promise<Uint8Array | undefined> {
    const bytes = cardFromText(cardText);
    const card = openCard(bytes, this.#now());
    const text = await this.#storage.get(`rendezvous/offer/${toBase64Url(card.card.cardId)}`);
    if (!text) throw new SwitchboardError('card-unknown', 'this device did not issue that card');
    const offer = JSON.parse(text) as StoredOffer;
    return offer.mailboxSeed === undefined ? undefined : unb64(offer.mailboxSeed);
  }

  /**
   * Encrypts `plaintext` for a contact and returns the envelope. Once the connection has a
   * libsignal session this is a libsignal PreKeySignalMessage (`0x01`) or SignalMessage
   * (`0x02`) envelope from `card:<our contact id>`; before that (bootstrap) it is a card-channel
   * message (`0x10`), which from the replier also carries its prekey bundle
   * (docs/rendezvous-card.md §Sessions).
   */
  async seal(contactId: string, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const c = await this.#load(contactId);
    const { sessions, peer } = contactSessions(this.#storage, c.contactId, c.ownContactId);
    if (await sessions.hasSession(peer)) {
      const ct = await sessions.encrypt(peer, plaintext);
      return encodeEnvelope({
        type: ct.kind === 'prekey' ? MessageType.SignalPreKey : MessageType.SignalMessage,
        sender: `card:${c.ownContactId}`,
        senderDevice: CARD_DEVICE_ID,
        ciphertext: ct.body,
      });
    }
    return this.#sealCard(c, plaintext);
  }

  /**
   * The replier's bootstrap: a card-channel message carrying only our prekey bundle, to be
   * delivered right after the reply card so the offer side can start the libsignal session
   * before anyone writes. `undefined` when there is nothing to send (offer side, or the
   * session already exists).
   */
  async bundleEnvelope(contactId: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const c = await this.#load(contactId);
    if (c.role !== 'reply' || c.ownBundle === undefined) return undefined;
    const { sessions, peer } = contactSessions(this.#storage, c.contactId, c.ownContactId);
    if (await sessions.hasSession(peer)) return undefined;
    return this.#sealCard(c, undefined);
  }

  /** Card-channel message (ciphertext layout: docs/rendezvous-card.md §Card channel). */
  async #sealCard(
    c: StoredConnection,
    payload: Uint8Array | undefined,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const counter = c.nextSendCounter;
    if (counter >= 2 ** 32 - 1) {
      throw new SwitchboardError('no-session', 'this connection is exhausted; exchange new cards');
    }
    // The replier's bootstrap messages (version 2) carry its bundle and maybe a payload.
    const bundle = c.role === 'reply' && c.ownBundle !== undefined ? unb64(c.ownBundle) : undefined;
    const version = bundle ? 2 : 1;
    if (!bundle && !payload) {
      throw new SwitchboardError('invalid-input', 'nothing to send on this connection');
    }
    const inner = bundle
      ? new ByteWriter()
          .u16(bundle.length)
          .bytes(bundle)
          .u8(payload ? 1 : 0)
          .bytes(payload ?? new Uint8Array(0))
          .finish()
      : copyBytes(payload!);
    // Persist the advanced ratchet before using the key, so a crash never reuses a key.
    const step = ratchet(unb64(c.sendChain));
    await this.#saveConnection({ ...c, sendChain: b64(step.next), nextSendCounter: counter + 1 });
    const key = step.secret.slice(0, 32);
    const nonce = step.secret.slice(32, 44);
    const header = new ByteWriter().u8(version).u32(counter).finish();
    const aad = concatBytes(MESSAGE_CONTEXT, utf8(c.ownContactId), utf8(c.contactId), header);
    const ct = Aes256GcmSiv.new(key).encrypt(inner, nonce, aad);
    const own = PrivateKey.deserialize(unb64(c.ownContactPrivate));
    const signature = own.sign(concatBytes(aad, ct));
    return encodeEnvelope({
      type: MessageType.CardMessage,
      sender: `card:${c.ownContactId}`,
      senderDevice: CARD_DEVICE_ID,
      ciphertext: concatBytes(header, ct, signature),
    });
  }

  /**
   * Opens an envelope from a card contact: libsignal (`0x01`, `0x02`) or card channel
   * (`0x10`). Messages from unknown senders, under another identity key than the contact's
   * per-contact key (`identity-key-changed`), not signed by it (`message-rejected`) or already
   * received (`replayed-message`) are refused; callers discard them. `setup` is true when the
   * envelope only carried the contact's prekey bundle (nothing to show the user).
   */
  async open(envelopeBytes: Uint8Array): Promise<{
    readonly contactId: string;
    readonly plaintext: Uint8Array<ArrayBuffer>;
    readonly setup: boolean;
  }> {
    const env = decodeEnvelope(envelopeBytes);
    const signal = env.type === MessageType.SignalPreKey || env.type === MessageType.SignalMessage;
    if ((!signal && env.type !== MessageType.CardMessage) || !env.sender.startsWith('card:')) {
      throw new SwitchboardError('message-rejected', 'not a rendez-vous connection message');
    }
    const contactId = env.sender.slice(5);
    const text = /^[A-Za-z0-9_-]{22}$/.test(contactId)
      ? await this.#storage.get(`rendezvous/connection/${contactId}`)
      : undefined;
    if (!text || env.senderDevice !== CARD_DEVICE_ID) {
      throw new SwitchboardError(
        'message-rejected',
        'message from a sender this device is not connected to',
      );
    }
    const c = JSON.parse(text) as StoredConnection;
    if (signal) {
      const { sessions, peer } = contactSessions(this.#storage, c.contactId, c.ownContactId);
      const plaintext = await sessions.decrypt(peer, {
        kind: env.type === MessageType.SignalPreKey ? 'prekey' : 'whisper',
        body: env.ciphertext,
      });
      if (!c.signalSeen) await this.#saveConnection({ ...c, signalSeen: true });
      return { contactId: c.contactId, plaintext, setup: false };
    }
    if (c.signalSeen) {
      // The contact has moved to its libsignal session: a card message now is a downgrade.
      throw new SwitchboardError(
        'message-rejected',
        'card-channel message after the connection moved to its libsignal session; discarded',
      );
    }
    return this.#openCard(c, env.ciphertext);
  }

  async #openCard(
    c: StoredConnection,
    ciphertext: Uint8Array<ArrayBuffer>,
  ): Promise<{
    readonly contactId: string;
    readonly plaintext: Uint8Array<ArrayBuffer>;
    readonly setup: boolean;
  }> {
    const { version, counter, ct, aad } = verifyCardMessage(c, ciphertext);
    const { secret, receiveChain, receiveNext, skipped } = messageSecret(c, counter);
    const inner = decryptCardMessage(secret, ct, aad);
    const { plaintext, setup } =
      version === 2 ? await this.#bootstrap(c, inner) : { plaintext: inner, setup: false };
    await this.#saveConnection({ ...c, receiveChain, receiveNext, skipped });
    return { contactId: c.contactId, plaintext, setup };
  }

  /**
   * A version 2 (bootstrap) message: the contact's prekey bundle, then a flag and the payload.
   * Tie-break by role: only the offer side processes a bundle, so the two sides can never both
   * start a session. The bundle's identity key is the replier's card key.
   */
  async #bootstrap(
    c: StoredConnection,
    inner: Uint8Array<ArrayBuffer>,
  ): Promise<{ plaintext: Uint8Array<ArrayBuffer>; setup: boolean }> {
    const ir = new ByteReader(
      inner,
      () => new SwitchboardError('message-rejected', 'bootstrap message is malformed'),
    );
    const bundle = ir.bytes(ir.u16('bundle length'), 'bundle');
    const hasPayload = ir.u8('payload flag');
    const plaintext = ir.rest();
    const setup = hasPayload === 0;
    if (setup && plaintext.length > 0) {
      throw new SwitchboardError('message-rejected', 'bootstrap message is malformed');
    }
    const { sessions, peer } = contactSessions(this.#storage, c.contactId, c.ownContactId);
    if (c.role === 'offer' && !(await sessions.hasSession(peer))) {
      try {
        await sessions.establish(
          peer,
          decodeContactBundle(bundle, unb64(c.theirContactKey)),
          unb64(c.theirContactKey),
        );
      } catch (cause) {
        throw new SwitchboardError(
          'message-rejected',
          "the contact's prekey bundle was refused; message discarded",
          { cause },
        );
      }
    }
    return { plaintext, setup };
  }
}

/** Parses a card-channel message and checks the contact's signature over it. */
function verifyCardMessage(
  c: StoredConnection,
  ciphertext: Uint8Array<ArrayBuffer>,
): { version: number; counter: number; ct: Uint8Array<ArrayBuffer>; aad: Uint8Array<ArrayBuffer> } {
  const r = new ByteReader(
    ciphertext,
    () => new SwitchboardError('message-rejected', 'message is truncated'),
  );
  const version = r.u8('version');
  const counter = r.u32('counter');
  if ((version !== 1 && version !== 2) || r.remaining < 16 + 64) {
    throw new SwitchboardError('message-rejected', 'message format not understood');
  }
  const ct = r.bytes(r.remaining - 64, 'ciphertext');
  const signature = r.bytes(64, 'signature');
  const header = ciphertext.slice(0, 5);
  const aad = concatBytes(MESSAGE_CONTEXT, utf8(c.contactId), utf8(c.ownContactId), header);
  const theirKey = PublicKey.deserialize(unb64(c.theirContactKey));
  let signed = false;
  try {
    signed = theirKey.verify(concatBytes(aad, ct), signature);
  } catch {
    signed = false;
  }
  if (!signed) {
    throw new SwitchboardError(
      'message-rejected',
      "message is not signed by this contact's key; it was discarded",
    );
  }
  return { version, counter, ct, aad };
}

/**
 * The message key for `counter`: ratcheted forward (keeping the skipped keys, at most
 * MAX_SKIPPED) or taken from the skipped keys; with the connection's new receive state.
 */
function messageSecret(
  c: StoredConnection,
  counter: number,
): {
  secret: Uint8Array;
  receiveChain: string;
  receiveNext: number;
  skipped: Record<string, string>;
} {
  const skipped: Record<string, string> = { ...c.skipped };
  if (counter < c.receiveNext) {
    const kept = skipped[String(counter)];
    if (kept === undefined) {
      throw new SwitchboardError('replayed-message', 'this message was already received');
    }
    delete skipped[String(counter)];
    return {
      secret: unb64(kept),
      receiveChain: c.receiveChain,
      receiveNext: c.receiveNext,
      skipped,
    };
  }
  if (counter - c.receiveNext > MAX_SKIP) {
    throw new SwitchboardError(
      'message-rejected',
      'message is too far ahead of this connection; discarded',
    );
  }
  let chain: Uint8Array = unb64(c.receiveChain);
  for (let i = c.receiveNext; i < counter; i++) {
    const step = ratchet(chain);
    skipped[String(i)] = b64(step.secret);
    chain = step.next;
  }
  const step = ratchet(chain);
  const keys = Object.keys(skipped)
    .map(Number)
    .sort((a, b) => a - b);
  for (const k of keys.slice(0, Math.max(0, keys.length - MAX_SKIPPED))) delete skipped[String(k)];
  return { secret: step.secret, receiveChain: b64(step.next), receiveNext: counter + 1, skipped };
}

function decryptCardMessage(
  secret: Uint8Array,
  ct: Uint8Array<ArrayBuffer>,
  aad: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  try {
    return Aes256GcmSiv.new(copyBytes(secret.subarray(0, 32))).decrypt(
      ct,
      copyBytes(secret.subarray(32, 44)),
      aad,
    );
  } catch (cause) {
    throw new SwitchboardError('decrypt-failed', 'message could not be decrypted', { cause });
  }
}

/** Wraps a reply card in a CardReply envelope for delivery to the offerer's mailbox. */
export function replyEnvelope(reply: SignedCard, ownContactId: string): Uint8Array<ArrayBuffer> {
  return encodeEnvelope({
    type: MessageType.CardReply,
    sender: `card:${ownContactId}`,
    senderDevice: 1,
    ciphertext: reply.bytes,
  });
}

function toPublic(c: StoredConnection): Connection {
  return {
    contactId: c.contactId,
    ownContactId: c.ownContactId,
    label: c.label,
    channel: c.channel,
    theirReach: c.theirReach.map(fromStoredReach),
    ownReach: c.ownReach.map(fromStoredReach),
    theirContactKey: unb64(c.theirContactKey),
    establishedAt: c.establishedAt,
  };
}
