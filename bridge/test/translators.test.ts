import { xml } from '@xmpp/component';
import { BridgeError } from '../src/model/errors.js';
import type { OutboundMessage } from '../src/model/model.js';
import {
  ENVELOPE_NS,
  RECEIPTS_NS,
  SECURITY_NS,
  fromXmppStanza,
  toXmppError,
  toXmppStanza,
} from '../src/translators/xmpp.js';
import { fromSipMessage, sipStatusFor, toSipMessage } from '../src/translators/sip.js';
import {
  ENVELOPE_EVENT_TYPE,
  bridgeStateEvent,
  fromMatrixEvent,
  ghostDisplayName,
  ghostUserId,
  targetFromGhost,
  toMatrixEvent,
} from '../src/translators/matrix.js';

const envelope = new Uint8Array([1, 2, 0, 255, 128, 7]);
const envelopeText = Buffer.from(envelope).toString('base64');
const toBob: OutboundMessage = {
  id: 'id-1',
  from: { network: 'sip', id: 'alice@sip.test' },
  to: { network: 'xmpp', id: 'bob@xmpp.test' },
  payload: { kind: 'envelope', bytes: envelope },
};

describe('XMPP translators', () => {
  it('reads an envelope, its sender, target and receipt request', () => {
    const stanza = xml(
      'message',
      {
        from: 'Bob@xmpp.test/phone',
        to: 'sip_alice=40sip.test@bridge.xmpp.test',
        id: 'x1',
        type: 'chat',
      },
      xml('envelope', { xmlns: ENVELOPE_NS }, envelopeText),
      xml('request', { xmlns: RECEIPTS_NS }),
    );
    const got = fromXmppStanza(stanza, 'bridge.xmpp.test');
    expect(got).toEqual({
      kind: 'message',
      message: {
        from: { network: 'xmpp', id: 'bob@xmpp.test' },
        target: { kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } },
        payload: { kind: 'envelope', bytes: envelope },
        nativeId: 'x1',
        wantsReceipt: true,
      },
    });
  });

  it('prefers the envelope over the fallback body', () => {
    const stanza = xml(
      'message',
      { from: 'b@x.test', to: 'tel_15550100@c.test' },
      xml('body', {}, 'fallback'),
      xml('envelope', { xmlns: ENVELOPE_NS }, envelopeText),
    );
    const got = fromXmppStanza(stanza, 'c.test');
    expect(got.kind === 'message' && got.message.payload.kind).toBe('envelope');
  });

  it('ignores stanzas for other domains and error stanzas', () => {
    expect(
      fromXmppStanza(xml('message', { from: 'a@x', to: 'sip_a=40b@other' }), 'c.test').kind,
    ).toBe('ignored');
    expect(
      fromXmppStanza(
        xml('message', { from: 'a@x', to: 'sip_a=40b@c.test', type: 'error' }),
        'c.test',
      ).kind,
    ).toBe('ignored');
  });

  it('writes envelopes with a fallback body and EME marker, plaintext marked end-to-bridge', () => {
    const out = toXmppStanza(toBob, 'sip_alice=40sip.test@bridge.xmpp.test');
    expect(out.attrs).toMatchObject({
      to: 'bob@xmpp.test',
      from: 'sip_alice=40sip.test@bridge.xmpp.test',
      id: 'id-1',
    });
    expect(out.getChildText('envelope', ENVELOPE_NS)).toBe(envelopeText);
    expect(out.getChild('encryption', 'urn:xmpp:eme:0')).toBeDefined();
    expect(out.getChild('security', SECURITY_NS)).toBeUndefined();
    // A SIP sender gets no read markers back: its messages are not markable.
    expect(out.getChild('markable', 'urn:xmpp:chat-markers:0')).toBeUndefined();
    const fromMatrix = toXmppStanza(
      { ...toBob, from: { network: 'matrix', id: '@a:m.test' } },
      'g@c',
    );
    expect(fromMatrix.getChild('markable', 'urn:xmpp:chat-markers:0')).toBeDefined();
    // No receipt request: the server's ping answer is the delivery, a receipt would be dropped.
    expect(out.getChild('request', RECEIPTS_NS)).toBeUndefined();
    const plain = toXmppStanza({ ...toBob, payload: { kind: 'plaintext', text: 'hi' } }, 'g@c');
    expect(plain.getChildText('body')).toBe('[end-to-bridge] hi');
    expect(plain.getChild('security', SECURITY_NS)?.attrs['level']).toBe('end-to-bridge');
  });

  it('answers with an RFC 6120 error carrying the condition for the code', () => {
    const original = xml('message', { from: 'a@x/r', to: 'tel_1@c', id: 'q' });
    const err = toXmppError(original, new BridgeError('number-not-found', 'not in the directory'));
    expect(err.attrs).toMatchObject({ type: 'error', to: 'a@x/r', from: 'tel_1@c', id: 'q' });
    expect(
      err.getChild('error')?.getChild('item-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
    ).toBeDefined();
  });
});

describe('SIP translators', () => {
  const base = {
    fromUri: 'sip:alice@sip.test',
    toUri: 'sip:xmpp_bob=40xmpp.test@sip.test',
    callId: 'c1',
    cseq: 3,
  };
  it('reads an envelope MESSAGE', () => {
    const msg = fromSipMessage({
      ...base,
      contentType: 'application/vnd.switchboard.envelope',
      body: envelopeText,
    });
    expect(msg).toEqual({
      from: { network: 'sip', id: 'alice@sip.test' },
      target: { kind: 'address', address: { network: 'xmpp', id: 'bob@xmpp.test' } },
      payload: { kind: 'envelope', bytes: envelope },
      nativeId: 'c1/3',
    });
  });

  it('reads a percent-escaped To user and a +E.164 target', () => {
    const msg = fromSipMessage({
      ...base,
      toUri: 'sip:%2B15550100@sip.test',
      contentType: 'text/plain',
      body: 'x',
    });
    expect(msg.target).toEqual({ kind: 'phone', e164: '+15550100' });
  });

  it('refuses other content types with 415', () => {
    let caught: unknown;
    try {
      fromSipMessage({ ...base, contentType: 'text/html', body: '<b>' });
    } catch (err) {
      caught = err;
    }
    expect(BridgeError.is(caught, 'invalid-message')).toBe(true);
    expect(sipStatusFor(caught as BridgeError).code).toBe(415);
  });

  it('writes envelope bodies as the text form and marks plaintext', () => {
    const out = toSipMessage(
      { ...toBob, to: { network: 'sip', id: 'carol@sip.test' } },
      { kind: 'address', address: { network: 'xmpp', id: 'bob@xmpp.test' } },
      'sip.test',
    );
    expect(out).toEqual({
      targetUri: 'sip:carol@sip.test',
      fromUri: 'sip:xmpp_bob=40xmpp.test@sip.test',
      contentType: 'application/vnd.switchboard.envelope',
      body: envelopeText,
      extraHeaders: [`X-Switchboard-Message-Id: ${toBob.id}`],
    });
    const plain = toSipMessage(
      { ...toBob, payload: { kind: 'plaintext', text: 'hi' } },
      { kind: 'phone', e164: '+15550100' },
      'sip.test',
    );
    expect(plain.body).toBe('[end-to-bridge] hi');
    expect(plain.extraHeaders).toEqual([
      'X-Switchboard-Security: end-to-bridge',
      `X-Switchboard-Message-Id: ${toBob.id}`,
    ]);
  });
});

describe('Matrix translators', () => {
  const naming = { prefix: '_sb_', domain: 'hs.test' };
  const bot = '@sbbot:hs.test';
  const portal = {
    roomId: '!r:hs.test',
    matrixUser: '@carol:hs.test',
    remote: {
      kind: 'address' as const,
      address: { network: 'xmpp' as const, id: 'bob@xmpp.test' },
    },
  };

  it('names ghosts in the exclusive namespace and parses them back', () => {
    const ghost = ghostUserId(portal.remote, naming);
    expect(ghost).toBe('@_sb_xmpp_bob=40xmpp.test:hs.test');
    expect(targetFromGhost(ghost, naming)).toEqual(portal.remote);
    expect(targetFromGhost('@carol:hs.test', naming)).toBeNull();
  });

  it('reads an envelope event from the portal owner', () => {
    const got = fromMatrixEvent(
      {
        type: ENVELOPE_EVENT_TYPE,
        event_id: '$e',
        room_id: portal.roomId,
        sender: '@carol:hs.test',
        content: { envelope: envelopeText },
      },
      portal,
      naming,
      bot,
    );
    expect(got).toEqual({
      kind: 'message',
      roomId: portal.roomId,
      message: {
        from: { network: 'matrix', id: '@carol:hs.test' },
        target: portal.remote,
        payload: { kind: 'envelope', bytes: envelope },
        nativeId: '$e',
      },
    });
  });

  it('ignores echoes of its own ghosts and events outside portals', () => {
    const ev = {
      type: 'm.room.message',
      room_id: portal.roomId,
      content: { msgtype: 'm.text', body: 'x' },
    };
    expect(
      fromMatrixEvent({ ...ev, sender: '@_sb_xmpp_bob=40xmpp.test:hs.test' }, portal, naming, bot)
        .kind,
    ).toBe('ignored');
    expect(fromMatrixEvent({ ...ev, sender: '@carol:hs.test' }, undefined, naming, bot).kind).toBe(
      'ignored',
    );
  });

  it('sees an invitation of a ghost', () => {
    const got = fromMatrixEvent(
      {
        type: 'm.room.member',
        room_id: '!n:hs.test',
        sender: '@carol:hs.test',
        state_key: '@_sb_tel_15550100:hs.test',
        content: { membership: 'invite' },
      },
      undefined,
      naming,
      bot,
    );
    expect(got).toEqual({
      kind: 'invite',
      roomId: '!n:hs.test',
      inviter: '@carol:hs.test',
      ghost: '@_sb_tel_15550100:hs.test',
      remote: { kind: 'phone', e164: '+15550100' },
    });
  });

  it('reads invitations of the bot and of junk ghosts, leaves and kicks without throwing', () => {
    const member = (stateKey: string, membership: string, sender = '@carol:hs.test'): unknown =>
      fromMatrixEvent(
        {
          type: 'm.room.member',
          room_id: '!n:hs.test',
          sender,
          state_key: stateKey,
          content: { membership },
        },
        undefined,
        naming,
        bot,
      );
    expect(member(bot, 'invite')).toEqual({
      kind: 'bot-invite',
      roomId: '!n:hs.test',
      inviter: '@carol:hs.test',
    });
    expect(member('@_sb_bot:hs.test', 'invite')).toEqual({
      kind: 'bad-invite',
      roomId: '!n:hs.test',
      reason: 'invalid-address',
    });
    expect(member('@_sb_irc_x:hs.test', 'invite')).toMatchObject({ kind: 'bad-invite' });
    expect(member('@carol:hs.test', 'leave')).toEqual({
      kind: 'left',
      roomId: '!n:hs.test',
      user: '@carol:hs.test',
    });
    expect(member('@_sb_tel_15550100:hs.test', 'ban')).toEqual({
      kind: 'ghost-removed',
      roomId: '!n:hs.test',
      ghost: '@_sb_tel_15550100:hs.test',
    });
    expect(member('@dave:hs.test', 'join')).toMatchObject({ kind: 'ignored' });
    // The bridge's own membership changes are echoes.
    expect(member('@_sb_tel_15550100:hs.test', 'leave', '@_sb_tel_15550100:hs.test')).toMatchObject(
      { kind: 'ignored' },
    );
  });

  it('names ghosts by address and network, never by phone number', () => {
    const address = (network: 'sip' | 'xmpp' | 'matrix', id: string): string =>
      ghostDisplayName({ kind: 'address', address: { network, id } });
    expect(address('xmpp', 'bob@xmpp.test')).toBe('bob@xmpp.test (XMPP)');
    expect(address('matrix', '@carol:hs.test')).toBe('@carol:hs.test (Matrix)');
    expect(address('sip', '+15550100@sip.test')).toBe('SIP contact at sip.test');
    expect(ghostDisplayName({ kind: 'phone', e164: '+15550100' })).not.toMatch(/[0-9]/);
  });

  it('writes envelopes as the custom event and plaintext marked end-to-bridge', () => {
    expect(toMatrixEvent(toBob)).toEqual({
      type: ENVELOPE_EVENT_TYPE,
      content: {
        envelope: envelopeText,
        media_type: 'application/vnd.switchboard.envelope',
        'org.switchboard.message_id': toBob.id,
      },
    });
    expect(toMatrixEvent({ ...toBob, payload: { kind: 'plaintext', text: 'hi' } }).content).toEqual(
      {
        msgtype: 'm.text',
        body: '[end-to-bridge] hi',
        'org.switchboard.security': 'end-to-bridge',
        'org.switchboard.message_id': toBob.id,
      },
    );
  });

  it('describes portals with an m.bridge state event', () => {
    const state = bridgeStateEvent(portal.remote, bot, '@carol:hs.test');
    expect(state.type).toBe('m.bridge');
    expect(state.stateKey).toBe('org.switchboard://xmpp/xmpp_bob=40xmpp.test');
    expect(state.content).toMatchObject({ bridgebot: bot, protocol: { id: 'switchboard' } });
  });
});
