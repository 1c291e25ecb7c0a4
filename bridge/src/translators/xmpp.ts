import type { XmlElement } from '@xmpp/component';
import { xml } from '@xmpp/component';
import { parseRemoteKey, remoteKeyFor, validateAddress } from '../routing/addressing.js';
import { envelopeFromText, envelopeToText } from '../model/envelope.js';
import type { BridgeError, BridgeErrorCode } from '../model/errors.js';
import type { Address, InboundMessage, Network, OutboundMessage, Target } from '../model/model.js';
import { END_TO_BRIDGE_MARK } from '../model/model.js';

/** The payload element carrying an envelope: `<envelope xmlns='urn:switchboard:envelope:1'>`. */
export const ENVELOPE_NS = 'urn:switchboard:envelope:1';
/** Marks a relayed plaintext message: `<security xmlns='urn:switchboard:security:1' level=.../>`. */
export const SECURITY_NS = 'urn:switchboard:security:1';
/** XEP-0184 message delivery receipts. */
export const RECEIPTS_NS = 'urn:xmpp:receipts';
/** XEP-0085 chat state notifications. */
export const CHATSTATES_NS = 'http://jabber.org/protocol/chatstates';
/** XEP-0333 chat markers (read markers). */
export const MARKERS_NS = 'urn:xmpp:chat-markers:0';
/** XEP-0380 explicit message encryption. */
export const EME_NS = 'urn:xmpp:eme:0';
/** XEP-0334 message processing hints. */
export const HINTS_NS = 'urn:xmpp:hints';
const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Text shown by XMPP clients that do not understand Switchboard envelopes (as OMEMO does). */
export const ENVELOPE_FALLBACK_BODY =
  'This message is end-to-end encrypted with Switchboard. Your client cannot display it.';

/** What an incoming stanza means to the bridge. */
export type XmppInbound =
  | { readonly kind: 'message'; readonly message: InboundMessage }
  | {
      readonly kind: 'receipt';
      readonly from: Address;
      readonly target: Target;
      readonly receiptFor: string;
    }
  | {
      readonly kind: 'typing';
      readonly from: Address;
      readonly target: Target;
      readonly typing: boolean;
    }
  | {
      readonly kind: 'displayed';
      readonly from: Address;
      readonly target: Target;
      readonly displayedId: string;
    }
  | { readonly kind: 'command'; readonly from: Address; readonly text: string }
  | {
      readonly kind: 'presence';
      readonly from: Address;
      readonly target: Target | null;
      readonly available: boolean;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

/** Bare JID of a full JID (`user@host/resource` -> `user@host`). */
export function bareJid(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}

/** The JID a remote target appears as on the component domain. */
export function ghostJidFor(target: Target, componentDomain: string): string {
  return `${remoteKeyFor(target)}@${componentDomain}`;
}

/**
 * Translates a stanza addressed to the component into what the bridge should do with it.
 * Throws {@link BridgeError} for malformed input the sender should hear about.
 */
export function fromXmppStanza(stanza: XmlElement, componentDomain: string): XmppInbound {
  const fromAttr = stanza.attrs['from'];
  const toAttr = stanza.attrs['to'];
  if (!fromAttr || !toAttr) return { kind: 'ignored', reason: 'missing from or to' };
  const from = validateAddress({ network: 'xmpp', id: bareJid(fromAttr).toLowerCase() });
  const to = bareJid(toAttr).toLowerCase();
  const at = to.indexOf('@');
  const domain = at < 0 ? to : to.slice(at + 1);
  if (domain !== componentDomain.toLowerCase()) return { kind: 'ignored', reason: 'not for us' };

  if (stanza.is('presence')) {
    const type = stanza.attrs['type'];
    if (type !== undefined && type !== 'unavailable') {
      return { kind: 'ignored', reason: 'presence subscription handled separately' };
    }
    const target = at < 0 ? null : parseRemoteKey(to.slice(0, at));
    return { kind: 'presence', from, target, available: type === undefined };
  }
  if (!stanza.is('message')) return { kind: 'ignored', reason: 'not a message' };
  if (stanza.attrs['type'] === 'error') return { kind: 'ignored', reason: 'error stanza' };

  if (at < 0) {
    const text = stanza.getChildText('body');
    return text === null ? { kind: 'ignored', reason: 'empty' } : { kind: 'command', from, text };
  }
  const target = parseRemoteKey(to.slice(0, at));
  const id = stanza.attrs['id'] ?? '';

  const envelope = stanza.getChild('envelope', ENVELOPE_NS);
  const body = stanza.getChildText('body');
  if (envelope || body !== null) {
    const payload = envelope
      ? { kind: 'envelope' as const, bytes: envelopeFromText(envelope.getText()) }
      : { kind: 'plaintext' as const, text: body! };
    const wantsReceipt = stanza.getChild('request', RECEIPTS_NS) !== undefined && id !== '';
    return { kind: 'message', message: { from, target, payload, nativeId: id, wantsReceipt } };
  }
  const received = stanza.getChild('received', RECEIPTS_NS);
  if (received?.attrs['id']) {
    return { kind: 'receipt', from, target, receiptFor: received.attrs['id'] };
  }
  const displayed = stanza.getChild('displayed', MARKERS_NS);
  if (displayed?.attrs['id']) {
    return { kind: 'displayed', from, target, displayedId: displayed.attrs['id'] };
  }
  for (const state of ['composing', 'paused', 'active', 'inactive', 'gone']) {
    if (stanza.getChild(state, CHATSTATES_NS)) {
      return { kind: 'typing', from, target, typing: state === 'composing' };
    }
  }
  return { kind: 'ignored', reason: 'no payload the bridge carries' };
}

/**
 * The stanza delivering `msg` to an XMPP user: envelopes in their own payload element with a
 * fallback body and XEP-0380 marker; plaintext marked end-to-bridge in body and element;
 * `markable` when the sender's network takes read markers (XEP-0333: the reader's `displayed`
 * marker goes back to a Matrix or XMPP sender; SIP has none, so a SIP sender's messages are not
 * marked and the server handles one element less per stanza). No XEP-0184
 * receipt request: the bridge knows a delivery from the server's ping answer and has no use
 * for the recipient's receipt, which would cost the server and the bridge a stanza each.
 */
export function toXmppStanza(msg: OutboundMessage, fromJid: string): XmlElement {
  const children: XmlElement[] = [];
  if (msg.payload.kind === 'envelope') {
    children.push(
      xml('envelope', { xmlns: ENVELOPE_NS }, envelopeToText(msg.payload.bytes)),
      xml('encryption', { xmlns: EME_NS, namespace: ENVELOPE_NS, name: 'Switchboard' }),
      xml('body', {}, ENVELOPE_FALLBACK_BODY),
      xml('store', { xmlns: HINTS_NS }),
    );
  } else {
    children.push(
      xml('body', {}, `${END_TO_BRIDGE_MARK} ${msg.payload.text}`),
      xml('security', { xmlns: SECURITY_NS, level: 'end-to-bridge' }),
    );
  }
  if (readMarkersReturn(msg.from.network)) children.push(xml('markable', { xmlns: MARKERS_NS }));
  return xml('message', { type: 'chat', id: msg.id, from: fromJid, to: msg.to.id }, ...children);
}

/** Whether a reader's marker can be relayed back to a sender on `network` (not SIP). */
function readMarkersReturn(network: Network): boolean {
  return network === 'matrix' || network === 'xmpp';
}

/**
 * XEP-0184 receipt for message `id`. For a relayed plaintext message the receipt is marked
 * end-to-bridge too, so the sender's side learns the bridge saw the text.
 */
export function toXmppReceipt(
  fromJid: string,
  toJid: string,
  id: string,
  endToBridge = false,
): XmlElement {
  return xml(
    'message',
    { from: fromJid, to: toJid },
    xml('received', { xmlns: RECEIPTS_NS, id }),
    ...(endToBridge ? [xml('security', { xmlns: SECURITY_NS, level: 'end-to-bridge' })] : []),
  );
}

/** XEP-0333 displayed marker for message `id` (the user read it). */
export function toXmppDisplayed(fromJid: string, toJid: string, id: string): XmlElement {
  return xml(
    'message',
    { type: 'chat', from: fromJid, to: toJid },
    xml('displayed', { xmlns: MARKERS_NS, id }),
  );
}

/** XEP-0085 chat state. */
export function toXmppChatState(fromJid: string, toJid: string, typing: boolean): XmlElement {
  return xml(
    'message',
    { type: 'chat', from: fromJid, to: toJid },
    xml(typing ? 'composing' : 'active', { xmlns: CHATSTATES_NS }),
  );
}

/** Presence of a remote user shown on XMPP. */
export function toXmppPresence(fromJid: string, toJid: string, available: boolean): XmlElement {
  return xml('presence', {
    from: fromJid,
    to: toJid,
    ...(available ? {} : { type: 'unavailable' }),
  });
}

/** A plain notice from the component (or a ghost) to a user, e.g. a command reply. */
export function toXmppNotice(fromJid: string, toJid: string, text: string): XmlElement {
  return xml('message', { type: 'chat', from: fromJid, to: toJid }, xml('body', {}, text));
}

const XMPP_CONDITIONS: Readonly<Record<BridgeErrorCode, { type: string; condition: string }>> = {
  'invalid-config': { type: 'cancel', condition: 'internal-server-error' },
  'invalid-address': { type: 'modify', condition: 'jid-malformed' },
  'invalid-envelope': { type: 'modify', condition: 'bad-request' },
  'envelope-too-large': { type: 'modify', condition: 'policy-violation' },
  'invalid-message': { type: 'modify', condition: 'bad-request' },
  'unsupported-network': { type: 'cancel', condition: 'feature-not-implemented' },
  'number-not-found': { type: 'cancel', condition: 'item-not-found' },
  'lookup-failed': { type: 'wait', condition: 'remote-server-timeout' },
  'no-route': { type: 'cancel', condition: 'remote-server-not-found' },
  'network-unavailable': { type: 'wait', condition: 'remote-server-timeout' },
  'delivery-rejected': { type: 'cancel', condition: 'recipient-unavailable' },
  'plaintext-relay-disabled': { type: 'cancel', condition: 'policy-violation' },
  'rate-limited': { type: 'wait', condition: 'resource-constraint' },
  'not-configured': { type: 'cancel', condition: 'service-unavailable' },
};

/** The error reply (RFC 6120 §8.3) to a stanza the bridge could not carry. */
export function toXmppError(original: XmlElement, err: BridgeError): XmlElement {
  const { type, condition } = XMPP_CONDITIONS[err.code];
  return xml(
    original.name,
    {
      type: 'error',
      from: original.attrs['to'],
      to: original.attrs['from'],
      ...(original.attrs['id'] ? { id: original.attrs['id'] } : {}),
    },
    xml(
      'error',
      { type },
      xml(condition, { xmlns: STANZAS_NS }),
      xml('text', { xmlns: STANZAS_NS }, err.message),
    ),
  );
}
