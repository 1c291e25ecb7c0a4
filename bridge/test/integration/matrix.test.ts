import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { MAX_ENVELOPE_BYTES } from '../../src/model/envelope.js';
import { ENVELOPE_EVENT_TYPE } from '../../src/translators/matrix.js';
import { b64, fileDatabase, makeBridge, randomEnvelope } from '../support/bridge.js';
import { HomeserverDouble } from '../support/homeserver-double.js';
import { KamailioServer } from '../support/kamailio.js';
import { waitFor } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { SippUser } from '../support/sipp.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const ENVELOPE_TYPE = 'application/vnd.switchboard.envelope';
const AS_TOKEN = 'as-token-for-tests-0123456789';
const HS_TOKEN = 'hs-token-for-tests-0123456789';

// Matrix (homeserver test double) <-> XMPP (real Prosody + slixmpp) and SIP (real Kamailio +
// SIPp), plaintext relay on, and a bridge restart in the middle of a conversation.
describe('Matrix <-> XMPP and SIP', () => {
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-mx-'));
  const hs = new HomeserverDouble({
    domain: 'hs.test',
    asToken: AS_TOKEN,
    hsToken: HS_TOKEN,
    userNamespace: /^@_switchboard_.*:hs\.test$/,
    senderLocalpart: 'switchboardbot',
  });
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let carol: SippUser;
  const dave = hs.addLocalUser('dave');
  const erin = hs.addLocalUser('erin');
  const aliceGhost = '@_switchboard_xmpp_alice=40xmpp.test:hs.test';
  const carolGhost = '@_switchboard_sip_carol=40sip.test:hs.test';
  const daveJid = (): string => `mx_=40dave=3ahs.test@${prosody.componentDomain}`;
  let daveRoom = '';

  const config = (): Record<string, unknown> => ({
    plaintextRelay: true,
    xmpp: {
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
      reconnectDelayMs: 300,
    },
    sip: {
      server: kamailio.wsUrl,
      domain: kamailio.domain,
      user: kamailio.bridgeUser,
      registerExpires: 60,
      reconnectDelayMs: 300,
    },
    matrix: {
      homeserverUrl: hs.url,
      domain: 'hs.test',
      id: 'switchboard',
      asToken: AS_TOKEN,
      hsToken: HS_TOKEN,
      senderLocalpart: 'switchboardbot',
      ghostPrefix: '_switchboard_',
      probeIntervalMs: 300,
    },
  });

  const startBridge = async (): Promise<void> => {
    bridge = await makeBridge(config(), database);
    await bridge.start();
    hs.setAppServiceUrl(bridge.httpUrl);
    await waitFor(
      () => (bridge.matrix?.isUp() && bridge.sip?.isUp() ? true : undefined),
      'bridge up',
    );
  };

  beforeAll(async () => {
    await Promise.all([prosody.init(), kamailio.init(), hs.start()]);
    prosody.register('alice', 'alice-pw');
    await Promise.all([prosody.start(), kamailio.start()]);
    database = await fileDatabase(join(dir, 'bridge.db'));
    await startBridge();
    await waitFor(() => (bridge.xmpp?.isUp() ? true : undefined), 'xmpp up');
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    await alice.ready();
    carol = new SippUser('carol', kamailio.domain, kamailio.udpPort, dir);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), carol?.close()]);
    await bridge?.stop();
    await database?.close();
    await Promise.allSettled([prosody.dispose(), kamailio.dispose(), hs.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins a portal when a Matrix user invites a ghost, and carries an envelope to XMPP unchanged', async () => {
    daveRoom = hs.createRoomAs(dave, [aliceGhost]);
    await waitFor(
      () => (hs.rooms.get(daveRoom)?.members.get(aliceGhost) === 'join' ? true : undefined),
      'ghost joined',
    );
    expect(hs.users.has(aliceGhost)).toBe(true);

    const envelope = randomEnvelope(1000);
    hs.sendAs(dave, daveRoom, ENVELOPE_EVENT_TYPE, {
      envelope: b64(envelope),
      media_type: ENVELOPE_TYPE,
    });
    const got = await alice.next((e) => e.envelope === b64(envelope), 'envelope at alice');
    expect(got.from).toBe(daveJid());
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
  });

  it('carries an envelope from XMPP back into the same portal as the ghost', async () => {
    const envelope = randomEnvelope(400);
    alice.send({ to: daveJid(), envelope: b64(envelope), id: 'to-dave' });
    const event = await waitFor(
      () => hs.eventsIn(daveRoom, ENVELOPE_EVENT_TYPE).find((e) => e.sender === aliceGhost),
      'envelope event from alice ghost',
    );
    expect(Buffer.from(String(event.content['envelope']), 'base64')).toEqual(Buffer.from(envelope));
    // Every masqueraded call stayed inside the namespace and was accepted.
    expect(hs.refused.filter((r) => r.errcode === 'M_EXCLUSIVE')).toEqual([]);
    expect(
      hs.requests.every((r) => r.userId === hs.botUserId || r.userId.startsWith('@_switchboard_')),
    ).toBe(true);
  });

  it('carries a maximal envelope and refuses a larger one with a notice in the portal', async () => {
    const max = randomEnvelope(MAX_ENVELOPE_BYTES);
    hs.sendAs(dave, daveRoom, ENVELOPE_EVENT_TYPE, { envelope: b64(max) });
    const got = await alice.next((e) => e.envelope === b64(max), 'maximal envelope at alice');
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(max));

    hs.sendAs(dave, daveRoom, ENVELOPE_EVENT_TYPE, {
      envelope: b64(randomEnvelope(MAX_ENVELOPE_BYTES + 1)),
    });
    const notice = await waitFor(
      () =>
        hs
          .eventsIn(daveRoom, 'm.room.message')
          .find(
            (e) =>
              e.sender === aliceGhost &&
              e.content['msgtype'] === 'm.notice' &&
              String(e.content['body']).includes('exceeds the size limit'),
          ),
      'size notice',
    );
    // Error texts carry no numbers.
    expect(notice.content['body']).not.toMatch(/[0-9]/);
  });

  it('keeps the order of a burst of messages', async () => {
    const burst = Array.from({ length: 6 }, (_, i) => b64(randomEnvelope(20 + i)));
    burst.forEach((envelope, i) => alice.send({ to: daveJid(), envelope, id: `burst-${i}` }));
    const seen = await waitFor(() => {
      const got = hs
        .eventsIn(daveRoom, ENVELOPE_EVENT_TYPE)
        .map((e) => String(e.content['envelope']))
        .filter((e) => burst.includes(e));
      return got.length === burst.length ? got : undefined;
    }, 'whole burst');
    expect(seen).toEqual(burst);
  });

  it('takes a burst from Matrix in batched transactions and hands it to XMPP in order, once', async () => {
    // 12: with dave's other messages in this file, within the default rate limit (30 a minute).
    const burst = Array.from({ length: 12 }, (_, i) => b64(randomEnvelope(30 + i)));
    const before = hs.pushed.length;
    // Posted in one go: the double, like Synapse, sends the first alone and the rest, queued
    // while it was in flight, together in the next transaction.
    for (const envelope of burst) hs.sendAs(dave, daveRoom, ENVELOPE_EVENT_TYPE, { envelope });
    await hs.drained();
    const pushed = hs.pushed.slice(before).filter((p) => p.status === 200);
    expect(Math.max(...pushed.map((p) => p.events))).toBeGreaterThan(1);
    const seen = await waitFor(() => {
      const got = alice.events.filter((e) => burst.includes(e.envelope ?? ''));
      return got.length >= burst.length ? got : undefined;
    }, 'whole burst at alice');
    expect(seen.map((e) => e.envelope)).toEqual(burst);
  });

  it('creates a portal on demand for a SIP user writing to a Matrix user, with m.bridge state', async () => {
    const envelope = randomEnvelope(500);
    await carol.sendMessage('mx_=40erin=3ahs.test', ENVELOPE_TYPE, b64(envelope));
    const room = await waitFor(() => hs.roomsWith(erin)[0], 'portal for erin');
    expect(room.creator).toBe(carolGhost);
    expect(room.members.get(erin)).toBe('invite');
    const bridgeState = hs.eventsIn(room.id, 'm.bridge')[0];
    expect(bridgeState?.state_key).toBe('org.switchboard://sip/sip_carol=40sip.test');
    expect(bridgeState?.content['protocol']).toEqual({
      id: 'switchboard',
      displayname: 'Switchboard',
    });
    const event = await waitFor(
      () => hs.eventsIn(room.id, ENVELOPE_EVENT_TYPE)[0],
      'envelope in erin portal',
    );
    expect(Buffer.from(String(event.content['envelope']), 'base64')).toEqual(Buffer.from(envelope));

    // Erin joins and answers: the envelope reaches carol's SIP phone unchanged.
    hs.joinAs(erin, room.id);
    const waitMessage = await carol.receiveOne();
    const reply = randomEnvelope(600);
    hs.sendAs(erin, room.id, ENVELOPE_EVENT_TYPE, { envelope: b64(reply) });
    const got = await waitMessage();
    expect(got.headers['content-type']).toBe(ENVELOPE_TYPE);
    expect(Buffer.from(got.body.trim(), 'base64')).toEqual(Buffer.from(reply));
  });

  it('marks relayed plaintext end-to-bridge in both directions', async () => {
    hs.sendAs(dave, daveRoom, 'm.room.message', { msgtype: 'm.text', body: 'plain from matrix' });
    const atAlice = await alice.next(
      (e) => e.body === '[end-to-bridge] plain from matrix',
      'plaintext at alice',
    );
    expect(atAlice.security).toBe('end-to-bridge');
    alice.send({ to: daveJid(), body: 'plain from xmpp', id: 'plain-to-dave' });
    const event = await waitFor(
      () =>
        hs
          .eventsIn(daveRoom, 'm.room.message')
          .find((e) => e.content['body'] === '[end-to-bridge] plain from xmpp'),
      'plaintext event',
    );
    expect(event.content['org.switchboard.security']).toBe('end-to-bridge');
    // ...and the senders' sides are told too: a notice in the portal, a marked receipt on XMPP.
    const notice = hs
      .eventsIn(daveRoom, 'm.room.message')
      .find(
        (e) =>
          e.content['msgtype'] === 'm.notice' &&
          e.content['org.switchboard.security'] === 'end-to-bridge',
      );
    expect(notice?.content['body']).toMatch(/end-to-bridge, not end-to-end/);
    const receipt = await alice.next(
      (e) => e.event === 'receipt' && e.id === 'plain-to-dave',
      'receipt for plaintext',
    );
    expect(receipt.security).toBe('end-to-bridge');
  });

  it('relays read markers both ways (Matrix m.read <-> XEP-0333 displayed)', async () => {
    const toRead = b64(randomEnvelope(30));
    alice.send({ to: daveJid(), envelope: toRead, id: 'read-me' });
    const delivered = await waitFor(
      () =>
        hs.eventsIn(daveRoom, ENVELOPE_EVENT_TYPE).find((e) => e.content['envelope'] === toRead),
      'event to mark read',
    );
    await bridge.core.idle();
    hs.readAs(dave, daveRoom, delivered.event_id);
    const marker = await alice.next(
      (e) => e.event === 'displayed' && e.id === 'read-me',
      'displayed at alice',
    );
    expect(marker.from).toBe(daveJid());

    const readByAlice = b64(randomEnvelope(31));
    const fromDave = hs.sendAs(dave, daveRoom, ENVELOPE_EVENT_TYPE, { envelope: readByAlice });
    const atAlice = await alice.next((e) => e.envelope === readByAlice, 'message to mark read');
    alice.displayed(daveJid(), atAlice.id!);
    await waitFor(
      () => (hs.receipts.get(`${daveRoom}|${aliceGhost}`) === fromDave ? true : undefined),
      'm.read from ghost',
    );
  });

  it('relays typing from Matrix to XMPP', async () => {
    hs.typingAs(dave, daveRoom, true);
    await alice.next(
      (e) => e.event === 'chatstate' && e.state === 'composing' && e.from === daveJid(),
      'typing at alice',
    );
  });

  it('shows XMPP presence on the Matrix ghost unless the user opted out', async () => {
    alice.presence(daveJid());
    await waitFor(
      () => (hs.presence.get(aliceGhost) === 'online' ? true : undefined),
      'ghost online',
    );

    alice.send({ to: prosody.componentDomain, body: 'presence off' });
    await alice.next((e) => e.body?.includes('no longer shared') === true, 'opt-out confirmed');
    alice.presence(daveJid(), 'unavailable');
    alice.send({ to: prosody.componentDomain, body: 'presence on' });
    await alice.next((e) => e.body?.includes('is shared with') === true, 'opt-in confirmed');
    expect(hs.presence.get(aliceGhost)).toBe('online');

    alice.presence(daveJid(), 'unavailable');
    await waitFor(
      () => (hs.presence.get(aliceGhost) === 'offline' ? true : undefined),
      'ghost offline',
    );
  });

  it('shows Matrix presence to the XMPP parties of the user unless opted out', async () => {
    hs.presenceAs(dave, 'offline');
    await alice.next(
      (e) => e.event === 'presence' && e.from === daveJid() && e.type === 'unavailable',
      'dave offline',
    );
    hs.sendAs(dave, daveRoom, 'm.room.message', {
      msgtype: 'm.text',
      body: '!switchboard presence off',
    });
    await waitFor(
      () =>
        hs
          .eventsIn(daveRoom, 'm.room.message')
          .find((e) => String(e.content['body']).includes('no longer shared')),
      'opt-out notice',
    );
    const before = alice.events.filter(
      (e) => e.event === 'presence' && e.from === daveJid(),
    ).length;
    hs.presenceAs(dave, 'online');
    // Taken by the bridge while opted out: a homeserver may put a presence update and a later
    // room event into one transaction, and the spec orders neither against the other.
    await hs.drained();
    hs.sendAs(dave, daveRoom, 'm.room.message', {
      msgtype: 'm.text',
      body: '!switchboard presence on',
    });
    await waitFor(
      () =>
        hs
          .eventsIn(daveRoom, 'm.room.message')
          .find((e) => String(e.content['body']).includes('is shared with')),
      'opt-in notice',
    );
    hs.presenceAs(dave, 'offline');
    await waitFor(
      () =>
        alice.events.filter((e) => e.event === 'presence' && e.from === daveJid()).length > before
          ? true
          : undefined,
      'presence after opt-in',
    );
    const after = alice.events
      .filter((e) => e.event === 'presence' && e.from === daveJid())
      .slice(before);
    expect(after.map((e) => e.type)).toEqual(['unavailable']);
  });

  it('answers user, alias and ping queries as the Application Service API says', async () => {
    const as = bridge.httpUrl;
    const auth = { authorization: `Bearer ${HS_TOKEN}` };
    const ghost = '@_switchboard_tel_15550100:hs.test';
    const users = await fetch(`${as}/_matrix/app/v1/users/${encodeURIComponent(ghost)}`, {
      headers: auth,
    });
    expect(users.status).toBe(200);
    expect(hs.users.has(ghost)).toBe(true); // created before answering, as the spec requires
    const bad = await fetch(
      `${as}/_matrix/app/v1/users/${encodeURIComponent('@_switchboard_irc_x:hs.test')}`,
      { headers: auth },
    );
    expect(bad.status).toBe(404);
    const noToken = await fetch(`${as}/_matrix/app/v1/users/${encodeURIComponent(ghost)}`);
    expect(noToken.status).toBe(401);
    const alias = await fetch(
      `${as}/_matrix/app/v1/rooms/${encodeURIComponent('#_switchboard_x:hs.test')}`,
      { headers: auth },
    );
    expect(alias.status).toBe(404);
    const ping = await fetch(`${as}/_matrix/app/v1/ping`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ transaction_id: 'p1' }),
    });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({});
  });

  it('counts messages per network and direction, with delivery latency, in /metrics', async () => {
    const text = await (await fetch(bridge.metricsUrl)).text();
    const value = (line: string): number =>
      Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    expect(
      value('switchboard_bridge_messages_total{network="matrix",direction="in"}'),
    ).toBeGreaterThan(0);
    expect(
      value('switchboard_bridge_messages_total{network="xmpp",direction="out"}'),
    ).toBeGreaterThan(0);
    expect(
      value('switchboard_bridge_messages_total{network="sip",direction="in"}'),
    ).toBeGreaterThan(0);
    expect(value('switchboard_bridge_delivery_seconds_count{network="xmpp"}')).toBeGreaterThan(0);
    expect(
      value('switchboard_bridge_failures_total{network="matrix",reason="envelope-too-large"}'),
    ).toBe(1);
    const health = await fetch(`${bridge.httpUrl}/health`);
    expect(health.status).toBe(200);
  });

  it('checks the homeserver token and processes a repeated transaction once', async () => {
    const body = { events: [] };
    expect(await hs.pushRaw('auth-none', body, 'none')).toBe(401);
    expect(await hs.pushRaw('auth-wrong', body, 'wrong')).toBe(403);
    expect(await hs.pushRaw('auth-query', body, 'query')).toBe(200);

    const envelope = randomEnvelope(77);
    const event = {
      event_id: '$repeat-1',
      room_id: daveRoom,
      sender: dave,
      type: ENVELOPE_EVENT_TYPE,
      content: { envelope: b64(envelope) },
      origin_server_ts: Date.now(),
    };
    expect(await hs.pushRaw('repeat', { events: [event] })).toBe(200);
    expect(await hs.pushRaw('repeat', { events: [event] })).toBe(200);
    await alice.next((e) => e.envelope === b64(envelope), 'repeated envelope at alice');
    await bridge.core.idle();
    expect(alice.events.filter((e) => e.envelope === b64(envelope))).toHaveLength(1);
  });

  it('loses no acknowledged Matrix message across a bridge restart while XMPP is down', async () => {
    await prosody.stop();
    await waitFor(() => (bridge.xmpp?.isUp() ? undefined : true), 'xmpp down');
    const envelope = randomEnvelope(222);
    hs.sendAs(dave, daveRoom, ENVELOPE_EVENT_TYPE, { envelope: b64(envelope) });
    await hs.drained(); // the AS answered 200: the message is acknowledged
    await bridge.stop();

    await prosody.start();
    await startBridge();
    await alice.ready(2);
    const got = await alice.next(
      (e) => e.envelope === b64(envelope),
      'envelope after restart',
      30000,
    );
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
  });
});
