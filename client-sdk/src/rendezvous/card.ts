import { PublicKey } from '@signalapp/libsignal-client';
import type { PrivateKey } from '@signalapp/libsignal-client';
import {
  ByteReader,
  ByteWriter,
  concatBytes,
  copyBytes,
  fromBase64,
  fromUtf8,
  sha256,
  toBase64Url,
  utf8,
} from '../bytes.js';
import { SwitchboardError } from '../errors.js';

/** Text form prefix: `SBC1:` + base64url (RFC 4648 §5, unpadded) of the binary card. */
export const CARD_TEXT_PREFIX = 'SBC1:';
export const CARD_VERSION = 1;
/** Binary cards above this are refused (one QR code, docs/rendezvous-card.md). */
export const MAX_CARD_BYTES = 1024;
const SIGNATURE_CONTEXT = utf8('switchboard-rendezvous-card-v1');
const KEY_BYTES = 33;
const SIGNATURE_BYTES = 64;
const MAX_REACH = 8;
const MAX_LABEL_BYTES = 64;

export type CardKind = 'offer' | 'reply';

/** Where the card's owner can be reached for this connection. */
export type ReachEntry =
  | {
      readonly kind: 'mailbox';
      /** 32-byte mailbox address: SHA-256 of the owner's per-connection public key. */
      readonly address: Uint8Array;
      /** Provider base URL (https:, or http: for loopback development). */
      readonly provider: string;
    }
  | { readonly kind: 'network'; readonly uri: string };

export interface RendezvousCard {
  readonly version: typeof CARD_VERSION;
  readonly kind: CardKind;
  /** 16 random bytes naming this card. */
  readonly cardId: Uint8Array;
  /** Seconds since the Unix epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** The owner's public key for this one contact (libsignal serialized, 33 bytes). */
  readonly contactKey: Uint8Array;
  /** Ephemeral public key for the initial key agreement (33 bytes). */
  readonly conversationKey: Uint8Array;
  /** For a reply: SHA-256 of the offer card's bytes it answers. */
  readonly replyTo?: Uint8Array | undefined;
  /** Optional name the owner suggests, shown to the user (never trusted). */
  readonly label: string;
  readonly reach: ReadonlyArray<ReachEntry>;
}

export interface SignedCard {
  readonly card: RendezvousCard;
  /** Exact binary form, including the signature. */
  readonly bytes: Uint8Array<ArrayBuffer>;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('invalid-card', `rendez-vous card is malformed: ${message}`);
}

function checkUrl(provider: string): void {
  let url: URL;
  try {
    url = new URL(provider);
  } catch {
    throw bad('provider is not a URL');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw bad('provider URL must be https (http only for loopback development)');
  }
}

function body(card: RendezvousCard): Uint8Array<ArrayBuffer> {
  if (card.cardId.length !== 16) throw bad('card id must be 16 bytes');
  if (card.contactKey.length !== KEY_BYTES || card.conversationKey.length !== KEY_BYTES) {
    throw bad('keys must be 33-byte public keys');
  }
  if (card.kind === 'reply' ? card.replyTo?.length !== 32 : card.replyTo !== undefined) {
    throw bad('only a reply card references an offer (32-byte hash)');
  }
  if (!(card.issuedAt >= 0 && card.expiresAt > card.issuedAt && card.expiresAt < 2 ** 32)) {
    throw bad('expiry must be after issue time');
  }
  const label = utf8(card.label);
  if (label.length > MAX_LABEL_BYTES) throw bad(`label longer than ${MAX_LABEL_BYTES} bytes`);
  if (card.reach.length < 1 || card.reach.length > MAX_REACH) {
    throw bad(`a card needs 1 to ${MAX_REACH} ways to reach its owner`);
  }
  const w = new ByteWriter()
    .u8(CARD_VERSION)
    .u8(card.kind === 'offer' ? 1 : 2)
    .bytes(card.cardId)
    .u32(card.issuedAt)
    .u32(card.expiresAt)
    .bytes(card.contactKey)
    .bytes(card.conversationKey);
  if (card.replyTo) w.bytes(card.replyTo);
  w.u8(label.length).bytes(label).u8(card.reach.length);
  for (const r of card.reach) {
    if (r.kind === 'mailbox') {
      if (r.address.length !== 32) throw bad('mailbox address must be 32 bytes');
      checkUrl(r.provider);
      const p = utf8(r.provider);
      if (p.length > 255) throw bad('provider URL too long');
      w.u8(1).bytes(r.address).u8(p.length).bytes(p);
    } else {
      const u = utf8(r.uri);
      if (u.length < 1 || u.length > 255 || !/^[a-z][a-z0-9+.-]*:/i.test(r.uri)) {
        throw bad('network address must be a URI of at most 255 bytes');
      }
      w.u8(2).u8(u.length).bytes(u);
    }
  }
  return w.finish();
}

/** Serializes and signs `card` with the private half of `card.contactKey`. */
export function signCard(card: RendezvousCard, contactPrivate: PrivateKey): SignedCard {
  if (!contactPrivate.getPublicKey().equals(PublicKey.deserialize(copyBytes(card.contactKey)))) {
    throw new SwitchboardError('invalid-input', 'the signing key does not match the card key');
  }
  const unsigned = body(card);
  const signature = contactPrivate.sign(concatBytes(SIGNATURE_CONTEXT, unsigned));
  const bytes = concatBytes(unsigned, signature);
  if (bytes.length > MAX_CARD_BYTES) {
    throw bad(`card exceeds ${MAX_CARD_BYTES} bytes; use fewer or shorter addresses`);
  }
  return { card, bytes };
}

/**
 * Parses a binary card and checks its signature and validity window at `nowSeconds`.
 * Throws `invalid-card`, `card-signature-invalid`, `card-expired` or `card-not-yet-valid`.
 */
export function openCard(bytes: Uint8Array, nowSeconds: number): SignedCard {
  if (bytes.length > MAX_CARD_BYTES) throw bad(`card exceeds ${MAX_CARD_BYTES} bytes`);
  const r = new ByteReader(bytes, (what, at) => bad(`bad ${what} at byte ${at}`));
  const version = r.u8('version');
  if (version === 0) throw bad('not a rendez-vous card');
  if (version !== CARD_VERSION) {
    throw new SwitchboardError(
      'unsupported-version',
      `card version ${version} is not supported (this app reads version ${CARD_VERSION})`,
    );
  }
  const kindCode = r.u8('kind');
  if (kindCode !== 1 && kindCode !== 2) throw bad('unknown card kind');
  const kind: CardKind = kindCode === 1 ? 'offer' : 'reply';
  const cardId = r.bytes(16, 'card id');
  const issuedAt = r.u32('issue time');
  const expiresAt = r.u32('expiry');
  const contactKey = r.bytes(KEY_BYTES, 'contact key');
  const conversationKey = r.bytes(KEY_BYTES, 'conversation key');
  const replyTo = kind === 'reply' ? r.bytes(32, 'offer reference') : undefined;
  const label = fromUtf8(r.bytes(r.u8('label length'), 'label'));
  if (label === undefined) throw bad('label is not UTF-8');
  const reach = readReach(r);
  const signedLength = r.offset;
  const signature = r.bytes(SIGNATURE_BYTES, 'signature');
  if (r.remaining !== 0) throw bad('trailing data');
  const card: RendezvousCard = {
    version: CARD_VERSION,
    kind,
    cardId,
    issuedAt,
    expiresAt,
    contactKey,
    conversationKey,
    replyTo,
    label,
    reach,
  };
  verifyCardSignature(card, { contactKey, conversationKey, signature }, signedLength);
  checkValidity(card, nowSeconds);
  return { card, bytes: copyBytes(bytes) };
}

/** The card's reach entries: a count (1 to MAX_REACH), then mailboxes and network addresses. */
function readReach(r: ByteReader): ReachEntry[] {
  const reachCount = r.u8('reach count');
  if (reachCount < 1 || reachCount > MAX_REACH) throw bad('reach count out of range');
  const reach: ReachEntry[] = [];
  for (let i = 0; i < reachCount; i++) {
    const k = r.u8('reach kind');
    if (k === 1) {
      const address = r.bytes(32, 'mailbox address');
      const provider = fromUtf8(r.bytes(r.u8('provider length'), 'provider'));
      if (provider === undefined) throw bad('provider is not UTF-8');
      reach.push({ kind: 'mailbox', address, provider });
    } else if (k === 2) {
      const uri = fromUtf8(r.bytes(r.u8('uri length'), 'uri'));
      if (uri === undefined) throw bad('network address is not UTF-8');
      reach.push({ kind: 'network', uri });
    } else {
      throw bad('unknown reach kind');
    }
  }
  return reach;
}

/**
 * Checks the keys and the contact key's signature over the card, re-encoded: re-encoding
 * enforces every field rule (URL schemes, lengths) on what was parsed, and must give back the
 * `signedLength` octets the signature follows.
 */
function verifyCardSignature(
  card: RendezvousCard,
  parsed: {
    readonly contactKey: Uint8Array<ArrayBuffer>;
    readonly conversationKey: Uint8Array<ArrayBuffer>;
    readonly signature: Uint8Array<ArrayBuffer>;
  },
  signedLength: number,
): void {
  const unsigned = body(card);
  let key: PublicKey;
  try {
    key = PublicKey.deserialize(parsed.contactKey);
    PublicKey.deserialize(parsed.conversationKey);
  } catch {
    throw bad('a key is not a valid public key');
  }
  const ok = (() => {
    try {
      return key.verify(concatBytes(SIGNATURE_CONTEXT, unsigned), parsed.signature);
    } catch {
      return false;
    }
  })();
  if (!ok || unsigned.length !== signedLength) {
    throw new SwitchboardError(
      'card-signature-invalid',
      'the rendez-vous card signature does not verify: it was altered or damaged; ask for a new card',
    );
  }
}

/** Checks the card's validity window at `nowSeconds`, allowing 5 minutes of clock skew. */
function checkValidity(card: RendezvousCard, nowSeconds: number): void {
  if (nowSeconds >= card.expiresAt) {
    throw new SwitchboardError(
      'card-expired',
      'the rendez-vous card has expired; ask for a new one',
    );
  }
  if (card.issuedAt > nowSeconds + 300) {
    throw new SwitchboardError(
      'card-not-yet-valid',
      "the rendez-vous card is dated in the future; check this device's clock",
    );
  }
}

export function cardToText(bytes: Uint8Array): string {
  return CARD_TEXT_PREFIX + toBase64Url(bytes);
}

/** Accepts the `SBC1:` text form, tolerating whitespace and line breaks from copy-paste. */
export function cardFromText(text: string): Uint8Array<ArrayBuffer> {
  const compact = text.replace(/\s+/g, '');
  if (!compact.toUpperCase().startsWith(CARD_TEXT_PREFIX)) {
    throw bad(`text must start with ${CARD_TEXT_PREFIX}`);
  }
  const payload = compact.slice(CARD_TEXT_PREFIX.length);
  if (payload.length > Math.ceil((MAX_CARD_BYTES * 4) / 3) + 4) {
    throw bad(`card exceeds ${MAX_CARD_BYTES} bytes`);
  }
  const bytes = /^[A-Za-z0-9_-]*$/.test(payload) ? fromBase64(payload) : undefined;
  if (!bytes) throw bad('text is not base64url');
  return bytes;
}

/** SHA-256 of a card's bytes: how a reply names the offer it answers. */
export function cardHash(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return sha256(bytes);
}

/** Mailbox address for a per-connection public key: SHA-256 of its serialized form. */
export function mailboxAddressFor(publicKey: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return sha256(publicKey);
}

/** Contact id used as `card:<id>` envelope sender: base64url of SHA-256(contact key)[0..16]. */
export async function contactIdFor(contactKey: Uint8Array): Promise<string> {
  return toBase64Url((await sha256(contactKey)).subarray(0, 16));
}
