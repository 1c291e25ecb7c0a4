import { parseRemoteKey, remoteKeyFor, validateAddress } from '../routing/addressing.js';
import { ENVELOPE_MEDIA_TYPE, envelopeFromText, envelopeToText } from '../model/envelope.js';
import { BridgeError } from '../model/errors.js';
import type { BridgeErrorCode } from '../model/errors.js';
import type { Address, InboundMessage, OutboundMessage, Target } from '../model/model.js';
import { END_TO_BRIDGE_MARK } from '../model/model.js';

/** Header marking a relayed plaintext MESSAGE (the body carries the same mark). */
export const SECURITY_HEADER = 'X-Switchboard-Security';

/**
 * The bridge's id of a MESSAGE it sends, the same on every retry: delivery is at least once,
 * and a receiver that sees an id again drops the copy.
 */
export const MESSAGE_ID_HEADER = 'X-Switchboard-Message-Id';

/** Media type of one fragment of an envelope's text form (docs/bridge.md, Fragments). */
export const FRAGMENT_MEDIA_TYPE = 'application/vnd.switchboard.envelope-fragment';

/** Header of a fragment: `<index>/<count>`, index from 1. */
export const FRAGMENT_HEADER = 'X-Switchboard-Fragment';

/** Default largest body of one MESSAGE the bridge sends; longer envelopes go in fragments. */
export const DEFAULT_MAX_SIP_BODY = 8192;

/** Most fragments one envelope may have (a receiver refuses a larger count). */
export const MAX_FRAGMENTS = 512;

/** Longest fragment body a receiver takes. */
export const MAX_FRAGMENT_CHARS = 65_536;

/** A message id as the bridge writes it (and a receiver accepts): a UUID or similar. */
const MESSAGE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The parts of a SIP MESSAGE request (RFC 3428) the bridge reads. */
export interface SipMessageIn {
  /** From header URI, e.g. `sip:alice@sip.test`. */
  readonly fromUri: string;
  /** To header URI: whom the sender addressed (the Request-URI is the bridge's contact). */
  readonly toUri: string;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly callId: string;
  readonly cseq: number;
  /** The `X-Switchboard-Message-Id` header, when the sender set one. */
  readonly messageId?: string | undefined;
  /** The `X-Switchboard-Fragment` header, when the sender set one. */
  readonly fragment?: string | undefined;
}

/** One fragment of an envelope's text form, as a receiver reassembles it. */
export interface SipFragment {
  readonly messageId: string;
  /** From 1 to count. */
  readonly index: number;
  readonly count: number;
  readonly text: string;
}

/** A MESSAGE the bridge sends. */
export interface SipMessageOut {
  readonly targetUri: string;
  readonly fromUri: string;
  readonly contentType: string;
  readonly body: string;
  readonly extraHeaders: readonly string[];
}

/** `sip:user@host;params` -> `{ user, host }` (user percent-decoded, RFC 3261 §19.1.2). */
export function parseSipUri(uri: string): { readonly user: string; readonly host: string } {
  const m = /^<?sips?:([^@;>]+)@([^;>?]+)/i.exec(uri.trim());
  if (!m) throw new BridgeError('invalid-address', 'not a SIP URI with a user part');
  let user: string;
  try {
    user = decodeURIComponent(m[1]!);
  } catch (err) {
    throw new BridgeError('invalid-address', 'bad escape in SIP user part', { cause: err });
  }
  return { user, host: m[2]!.toLowerCase() };
}

/** Translates an incoming MESSAGE into an inbound message (throws {@link BridgeError}). */
export function fromSipMessage(req: SipMessageIn): InboundMessage {
  const from = parseSipUri(req.fromUri);
  const to = parseSipUri(req.toUri);
  const fromAddress = validateAddress({ network: 'sip', id: `${from.user}@${from.host}` });
  const target: Target = parseRemoteKey(to.user);
  const type = mediaType(req.contentType);
  const nativeId = nativeIdOf(req, fromAddress.id);
  if (type === ENVELOPE_MEDIA_TYPE) {
    // A SIP-over-WebSocket text frame must be UTF-8, so the body is the envelope text form.
    return {
      from: fromAddress,
      target,
      payload: { kind: 'envelope', bytes: envelopeFromText(req.body) },
      nativeId,
    };
  }
  if (type === 'text/plain') {
    return { from: fromAddress, target, payload: { kind: 'plaintext', text: req.body }, nativeId };
  }
  throw new BridgeError(
    'invalid-message',
    `content type must be ${ENVELOPE_MEDIA_TYPE} or text/plain`,
  );
}

/** The media type of a Content-Type value, lowercased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The sender network's id of a MESSAGE: its `X-Switchboard-Message-Id` (scoped to the sender)
 * when it has one, which stays the same when a bridge or client sends the message again in a
 * new transaction, else Call-ID and CSeq (the same only for a retransmission).
 */
function nativeIdOf(req: SipMessageIn, from: string): string {
  const id = req.messageId?.trim();
  if (id && MESSAGE_ID.test(id)) return `msg/${from}/${id}`;
  return `${req.callId}/${req.cseq}`;
}

/**
 * Reads a fragment MESSAGE (content type {@link FRAGMENT_MEDIA_TYPE}). Throws
 * `invalid-envelope` for a missing or malformed message id or fragment header, an index
 * outside 1..count or a count above {@link MAX_FRAGMENTS}; `envelope-too-large` for a body
 * over {@link MAX_FRAGMENT_CHARS}.
 */
export function parseSipFragment(req: SipMessageIn): SipFragment {
  const messageId = req.messageId?.trim() ?? '';
  if (!MESSAGE_ID.test(messageId)) {
    throw new BridgeError('invalid-envelope', 'fragment without a valid message id');
  }
  const m = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(req.fragment ?? '');
  if (!m) throw new BridgeError('invalid-envelope', 'fragment header must be index/count');
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_FRAGMENTS) {
    throw new BridgeError('invalid-envelope', 'fragment count out of range');
  }
  if (index < 1 || index > count) {
    throw new BridgeError('invalid-envelope', 'fragment index out of range');
  }
  const text = req.body.trim();
  if (text.length > MAX_FRAGMENT_CHARS) {
    throw new BridgeError('envelope-too-large', 'fragment exceeds the size limit');
  }
  if (text.length === 0) throw new BridgeError('invalid-envelope', 'fragment is empty');
  return { messageId, index, count, text };
}

/**
 * The MESSAGEs delivering `msg` to a SIP user: one when its body fits in `maxBodyChars`, else
 * an envelope's text form cut into fragments of at most that many characters (a multiple of
 * four, so each is whole base64 quads), all with the message id and `index/count`. Plaintext
 * (relay only) is never cut: one too long for a MESSAGE is refused (`delivery-rejected`).
 */
export function toSipMessages(
  msg: OutboundMessage,
  sender: Target,
  sipDomain: string,
  maxBodyChars: number = DEFAULT_MAX_SIP_BODY,
): SipMessageOut[] {
  const whole = toSipMessage(msg, sender, sipDomain);
  if (Buffer.byteLength(whole.body, 'utf8') <= maxBodyChars) return [whole];
  if (msg.payload.kind !== 'envelope') {
    throw new BridgeError('delivery-rejected', 'the message is too long for a SIP message');
  }
  const size = Math.max(4, Math.floor(maxBodyChars / 4) * 4);
  const count = Math.ceil(whole.body.length / size);
  if (count > MAX_FRAGMENTS) {
    throw new BridgeError('delivery-rejected', 'the envelope needs too many SIP fragments');
  }
  return Array.from({ length: count }, (_, i) => ({
    targetUri: whole.targetUri,
    fromUri: whole.fromUri,
    contentType: FRAGMENT_MEDIA_TYPE,
    body: whole.body.slice(i * size, (i + 1) * size),
    extraHeaders: [`${MESSAGE_ID_HEADER}: ${msg.id}`, `${FRAGMENT_HEADER}: ${i + 1}/${count}`],
  }));
}

/** The MESSAGE delivering `msg` to a SIP user, sent from the sender's ghost URI on `sipDomain`. */
export function toSipMessage(
  msg: OutboundMessage,
  sender: Target,
  sipDomain: string,
): SipMessageOut {
  const fromUri = `sip:${remoteKeyFor(sender)}@${sipDomain}`;
  const targetUri = `sip:${msg.to.id}`;
  if (msg.payload.kind === 'envelope') {
    return {
      targetUri,
      fromUri,
      contentType: ENVELOPE_MEDIA_TYPE,
      body: envelopeToText(msg.payload.bytes),
      extraHeaders: [`${MESSAGE_ID_HEADER}: ${msg.id}`],
    };
  }
  return {
    targetUri,
    fromUri,
    contentType: 'text/plain;charset=utf-8',
    body: `${END_TO_BRIDGE_MARK} ${msg.payload.text}`,
    extraHeaders: [`${SECURITY_HEADER}: end-to-bridge`, `${MESSAGE_ID_HEADER}: ${msg.id}`],
  };
}

/** The sender of a SIP message as a bridge address. */
export function sipAddress(uri: string): Address {
  const { user, host } = parseSipUri(uri);
  return validateAddress({ network: 'sip', id: `${user}@${host}` });
}

const SIP_STATUS: Readonly<Record<BridgeErrorCode, { code: number; reason: string }>> = {
  'invalid-config': { code: 500, reason: 'Server Internal Error' },
  'invalid-address': { code: 404, reason: 'Not Found' },
  'invalid-envelope': { code: 400, reason: 'Bad Request' },
  'envelope-too-large': { code: 513, reason: 'Message Too Large' },
  'invalid-message': { code: 415, reason: 'Unsupported Media Type' },
  'unsupported-network': { code: 416, reason: 'Unsupported URI Scheme' },
  'number-not-found': { code: 404, reason: 'Number Not Found In Directory' },
  'lookup-failed': { code: 504, reason: 'Directory Lookup Failed' },
  'no-route': { code: 404, reason: 'No Reachable Contact Method' },
  'network-unavailable': { code: 480, reason: 'Temporarily Unavailable' },
  'delivery-rejected': { code: 480, reason: 'Temporarily Unavailable' },
  'plaintext-relay-disabled': { code: 488, reason: 'Plaintext Relay Disabled' },
  'rate-limited': { code: 503, reason: 'Rate Limited' },
  'not-configured': { code: 503, reason: 'Service Unavailable' },
};

/** The final response for a MESSAGE the bridge could not take (RFC 3261 §21). */
export function sipStatusFor(err: BridgeError): { readonly code: number; readonly reason: string } {
  return SIP_STATUS[err.code];
}
