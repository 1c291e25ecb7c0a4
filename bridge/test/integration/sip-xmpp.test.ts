import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTestDatabase } from '@switchboard/db/testing';
import type { TestDatabase } from '@switchboard/db/testing';
import type { SwitchboardBridge } from '../../src/bridge.js';
import type { Resolver } from '../../src/routing/routing.js';
import { b64, makeBridge, randomEnvelope } from '../support/bridge.js';
import { KamailioServer } from '../support/kamailio.js';
import { waitFor } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { SippUser } from '../support/sipp.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const ENVELOPE_TYPE = 'application/vnd.switchboard.envelope';

// Real Prosody + slixmpp on one side, real Kamailio (WebSocket for the bridge, UDP for SIPp)
// + SIPp on the other; the bridge in between with plaintext relay turned on by the operator.
describe('XMPP <-> SIP through real Prosody and Kamailio', () => {
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-sip-'));
  // The bridge state lives in PostgreSQL here (the other integration suites use SQLite).
  let database: TestDatabase<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let bob: XmppTestClient;
  let carol: SippUser;
  // The directory as the client SDK would answer it: NAPTR order SIP first, then XMPP.
  const resolver: Resolver = {
    lookup: (e164) =>
      Promise.resolve(
        e164 === '+15550100'
          ? { contacts: [{ uri: 'sip:carol@sip.test' }, { uri: 'xmpp:alice@xmpp.test' }] }
          : null,
      ),
  };
  const carolGhostJid = (): string => `sip_carol=40sip.test@${prosody.componentDomain}`;
  const aliceSipUser = 'xmpp_alice=40xmpp.test';

  beforeAll(async () => {
    await Promise.all([prosody.init(), kamailio.init()]);
    prosody.register('alice', 'alice-pw');
    prosody.register('bob', 'bob-pw');
    await Promise.all([prosody.start(), kamailio.start()]);
    database = await openTestDatabase<unknown>('postgres');
    bridge = await makeBridge(
      {
        plaintextRelay: true,
        // Refills one message every two minutes: the rate-limit test cannot be outrun.
        rateLimit: { capacity: 30, perSeconds: 3600 },
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
      },
      database,
      resolver,
    );
    await bridge.start();
    await waitFor(
      () => (bridge.xmpp?.isUp() && bridge.sip?.isUp() ? true : undefined),
      'bridge up',
    );
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    bob = new XmppTestClient('bob@xmpp.test', 'bob-pw', prosody.c2sPort);
    await Promise.all([alice.ready(), bob.ready()]);
    carol = new SippUser('carol', kamailio.domain, kamailio.udpPort, dir);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close(), carol?.close()]);
    await bridge?.stop();
    await database?.dispose();
    await Promise.allSettled([prosody.dispose(), kamailio.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries an envelope from SIP to XMPP byte for byte', async () => {
    const envelope = randomEnvelope(700);
    await carol.sendMessage(aliceSipUser, ENVELOPE_TYPE, b64(envelope));
    const got = await alice.next((e) => e.envelope === b64(envelope), 'envelope at alice');
    expect(got.from).toBe(carolGhostJid());
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
    expect(got.security).toBeNull();
  });

  it('carries an envelope from XMPP to SIP byte for byte', async () => {
    const waitMessage = await carol.receiveOne();
    const envelope = randomEnvelope(900);
    alice.send({ to: carolGhostJid(), envelope: b64(envelope), id: 'x2s-1' });
    const got = await waitMessage();
    expect(got.headers['content-type']).toBe(ENVELOPE_TYPE);
    // sip.js escapes '=' as %3D, which RFC 3261 §19.1.4 makes equivalent.
    expect(decodeURIComponent(got.headers['from']!)).toContain(`sip:${aliceSipUser}@sip.test`);
    expect(Buffer.from(got.body.trim(), 'base64')).toEqual(Buffer.from(envelope));
    // Carol's 200 OK is what makes the bridge send alice a delivery receipt.
    await alice.next((e) => e.event === 'receipt' && e.id === 'x2s-1', 'receipt at alice');
  });

  it('marks relayed plaintext end-to-bridge on both networks', async () => {
    // Carol's own side is told too: the 200 OK carries the end-to-bridge mark.
    await carol.sendMessage(
      aliceSipUser,
      'text/plain',
      'hello from a plain SIP phone',
      200,
      'X-Switchboard-Security: end-to-bridge',
    );
    const atAlice = await alice.next(
      (e) => e.body?.includes('hello from a plain SIP phone') === true,
      'plaintext at alice',
    );
    // SIPp ends every body with CRLF; the bridge relays it as sent.
    expect(atAlice.body?.trimEnd()).toBe('[end-to-bridge] hello from a plain SIP phone');
    expect(atAlice.security).toBe('end-to-bridge');

    const waitMessage = await carol.receiveOne();
    alice.send({ to: carolGhostJid(), body: 'hello from plain XMPP', id: 'x2s-plain' });
    const atCarol = await waitMessage();
    expect(atCarol.body).toBe('[end-to-bridge] hello from plain XMPP');
    expect(atCarol.headers['x-switchboard-security']).toBe('end-to-bridge');
  });

  it('answers an unknown phone number with a clear SIP error', async () => {
    await carol.sendMessage('tel_15550123', ENVELOPE_TYPE, b64(randomEnvelope(10)), 404);
  });

  it('routes a phone number to its first contact method, falling back when SIP is down', async () => {
    const numberJid = `+15550100@${prosody.componentDomain}`;
    const waitMessage = await carol.receiveOne();
    const first = randomEnvelope(40);
    bob.send({ to: numberJid, envelope: b64(first), id: 'tel-1' });
    const atCarol = await waitMessage();
    expect(Buffer.from(atCarol.body.trim(), 'base64')).toEqual(Buffer.from(first));
    expect(decodeURIComponent(atCarol.headers['from']!)).toContain(
      'sip:xmpp_bob=40xmpp.test@sip.test',
    );

    await kamailio.stop();
    await waitFor(() => (bridge.sip?.isUp() ? undefined : true), 'sip down');
    const second = randomEnvelope(41);
    bob.send({ to: numberJid, envelope: b64(second), id: 'tel-2' });
    const atAlice = await alice.next((e) => e.envelope === b64(second), 'fallback to xmpp');
    expect(atAlice.from).toBe(`xmpp_bob=40xmpp.test@${prosody.componentDomain}`);
    await kamailio.start();
    await waitFor(() => (bridge.sip?.isUp() ? true : undefined), 'sip back', 30000);

    bob.send({ to: `+15550999@${prosody.componentDomain}`, envelope: b64(second), id: 'tel-3' });
    const err = await bob.next(
      (e) => e.event === 'error' && e.id === 'tel-3',
      'unknown number error',
    );
    expect(err.condition).toBe('item-not-found');
    expect(err.text).not.toContain('15550999');
  });

  it('delivers a message acknowledged while Prosody was down once it is back', async () => {
    await prosody.stop();
    await waitFor(() => (bridge.xmpp?.isUp() ? undefined : true), 'component offline');
    const envelope = randomEnvelope(333);
    // SIPp gets its 200 OK from the bridge while the XMPP server is gone.
    await carol.sendMessage(aliceSipUser, ENVELOPE_TYPE, b64(envelope));
    expect(await bridge.store.pendingCount()).toBe(1);
    await prosody.start();
    await alice.ready(2);
    const got = await alice.next(
      (e) => e.envelope === b64(envelope),
      'queued envelope at alice',
      30000,
    );
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
    await waitFor(
      async () => ((await bridge.store.pendingCount()) === 0 ? true : undefined),
      'outbox drained',
    );
  });

  it('re-registers after Kamailio restarts and carries messages both ways again', async () => {
    await kamailio.stop();
    await waitFor(() => (bridge.sip?.isUp() ? undefined : true), 'sip down');
    await kamailio.start();
    await waitFor(() => (bridge.sip?.isUp() ? true : undefined), 'sip re-registered', 30000);

    const toAlice = randomEnvelope(50);
    await carol.sendMessage(aliceSipUser, ENVELOPE_TYPE, b64(toAlice));
    await alice.next((e) => e.envelope === b64(toAlice), 'envelope after kamailio restart');

    const waitMessage = await carol.receiveOne();
    const toCarol = randomEnvelope(60);
    alice.send({ to: carolGhostJid(), envelope: b64(toCarol), id: 'after-k' });
    const got = await waitMessage();
    expect(Buffer.from(got.body.trim(), 'base64')).toEqual(Buffer.from(toCarol));
  });

  it('answers a SIP sender over the rate limit with 503 and Retry-After', async () => {
    const dave = new SippUser('dave', kamailio.domain, kamailio.udpPort, dir);
    try {
      // The limit's 30, from one SIPp process (30 processes at once starved the machine).
      await dave.sendMessages(30, aliceSipUser, ENVELOPE_TYPE, b64(randomEnvelope(20)));
      await dave.sendMessage(
        aliceSipUser,
        ENVELOPE_TYPE,
        b64(randomEnvelope(10)),
        503,
        'Retry-After: [0-9]+',
      );
    } finally {
      await dave.close();
    }
  }, 120_000);
});
