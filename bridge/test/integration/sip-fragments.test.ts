import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import {
  b64,
  faultTestConfig,
  fileDatabase,
  makeBridge,
  randomEnvelope,
} from '../support/bridge.js';
import { KamailioServer } from '../support/kamailio.js';
import { waitFor } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { SippUser } from '../support/sipp.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const FRAGMENT_TYPE = 'application/vnd.switchboard.envelope-fragment';

describe('envelopes XMPP -> SIP -> XMPP through real Prosody and Kamailio', () => {
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-frag-'));
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let bob: XmppTestClient;
  let carol: SippUser;
  let mallory: SippUser;
  const aliceSipUser = 'xmpp_alice=40xmpp.test';
  // Bob's SIP address as the bridge shows it on SIP, and that address's ghost on XMPP.
  const bobViaSipJid = (): string =>
    `sip_xmpp=5fbob=3d40xmpp.test=40sip.test@${prosody.componentDomain}`;

  beforeAll(async () => {
    await Promise.all([prosody.init(), kamailio.init()]);
    prosody.register('alice', 'alice-pw');
    prosody.register('bob', 'bob-pw');
    await Promise.all([prosody.start(), kamailio.start()]);
    database = await fileDatabase(join(dir, 'bridge.db'));
    bridge = await makeBridge(faultTestConfig(prosody, kamailio), database);
    await bridge.start();
    await waitFor(() => (bridge.xmpp?.isUp() && bridge.sip?.isUp() ? true : undefined), 'up');
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    bob = new XmppTestClient('bob@xmpp.test', 'bob-pw', prosody.c2sPort);
    await Promise.all([alice.ready(), bob.ready()]);
    carol = new SippUser('carol', kamailio.domain, kamailio.udpPort, dir);
    mallory = new SippUser('mallory', kamailio.domain, kamailio.udpPort, dir);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close(), carol?.close(), mallory?.close()]);
    await bridge?.stop();
    await database?.close();
    await Promise.allSettled([prosody.dispose(), kamailio.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  // sip.js answered 482 (Loop Detected) to a request carrying its own Call-ID prefix, which
  // every MESSAGE the bridge sent to one of its own ghosts through the proxy did.
  it('carries a 1 KB envelope XMPP -> SIP -> XMPP', async () => {
    const envelope = randomEnvelope(1024);
    alice.send({ to: bobViaSipJid(), envelope: b64(envelope), id: 'rt-1' });
    const got = await bob.next((e) => e.envelope === b64(envelope), 'envelope at bob', 60_000);
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
  }, 120_000);

  // Kamailio's TCP read buffer (16 KB by default) holds one whole SIP request: a MESSAGE with
  // an envelope over about 11 KB dropped the bridge's connection, so it goes in fragments.
  it('carries a 200 KB envelope XMPP -> SIP -> XMPP byte for byte, in fragments', async () => {
    const envelope = randomEnvelope(200 * 1024);
    alice.send({ to: bobViaSipJid(), envelope: b64(envelope), id: 'rt-200k' });
    const got = await bob.next((e) => e.envelope === b64(envelope), 'envelope at bob', 90_000);
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
    expect(got.from).toBe(`sip_xmpp=5falice=3d40xmpp.test=40sip.test@${prosody.componentDomain}`);
    // Alice's receipt: every fragment got its 200 OK, the last one after bob's copy was stored.
    await alice.next((e) => e.event === 'receipt' && e.id === 'rt-200k', 'receipt at alice');
    expect(bob.events.filter((e) => e.envelope === b64(envelope))).toHaveLength(1);
    expect(bridge.sip!.fragmentsHeld).toEqual({ partials: 0, chars: 0 });
  }, 180_000);

  it('carries the largest envelope (256 KiB) XMPP -> SIP -> XMPP byte for byte', async () => {
    const envelope = randomEnvelope(262_144);
    alice.send({ to: bobViaSipJid(), envelope: b64(envelope), id: 'rt-max' });
    const got = await bob.next((e) => e.envelope === b64(envelope), 'envelope at bob', 90_000);
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
    await alice.next((e) => e.event === 'receipt' && e.id === 'rt-max', 'receipt at alice');
  }, 180_000);

  /** Sends fragment `index/count` of `text` (cut in `count` pieces) as `from`, expecting `status`. */
  const sendFragment = (
    from: SippUser,
    id: string,
    text: string,
    index: number,
    count: number,
    status: number,
    fragmentHeader = `${index}/${count}`,
  ): Promise<void> => {
    const size = Math.ceil(text.length / count);
    return from.sendMessage(
      aliceSipUser,
      FRAGMENT_TYPE,
      text.slice((index - 1) * size, index * size),
      status,
      undefined,
      [`X-Switchboard-Message-Id: ${id}`, `X-Switchboard-Fragment: ${fragmentHeader}`],
    );
  };

  it('reassembles fragments sent out of order and duplicated: 202 while held, 200 at the end', async () => {
    const envelope = randomEnvelope(3000);
    const text = b64(envelope);
    await sendFragment(carol, 'reorder-1', text, 3, 3, 202);
    await sendFragment(carol, 'reorder-1', text, 1, 3, 202);
    await sendFragment(carol, 'reorder-1', text, 1, 3, 202); // a copy: ignored
    await sendFragment(carol, 'reorder-1', text, 2, 3, 200);
    const got = await alice.next((e) => e.envelope === text, 'reassembled envelope at alice');
    expect(got.from).toBe(`sip_carol=40sip.test@${prosody.componentDomain}`);
    // A late copy of a fragment of the taken message is answered 200, not held again.
    await sendFragment(carol, 'reorder-1', text, 2, 3, 200);
    // Nothing else from carol is shown: a later message arrives, the envelope only once.
    const marker = randomEnvelope(40);
    await carol.sendMessage(aliceSipUser, 'application/vnd.switchboard.envelope', b64(marker));
    await alice.next((e) => e.envelope === b64(marker), 'marker at alice');
    expect(alice.events.filter((e) => e.envelope === text)).toHaveLength(1);
  }, 180_000);

  it('never delivers an envelope with a missing fragment', async () => {
    const text = b64(randomEnvelope(3000));
    await sendFragment(carol, 'missing-1', text, 1, 3, 202);
    await sendFragment(carol, 'missing-1', text, 3, 3, 202);
    const marker = randomEnvelope(41);
    await carol.sendMessage(aliceSipUser, 'application/vnd.switchboard.envelope', b64(marker));
    // Messages from one sender to one recipient are delivered in order: the marker arriving
    // means nothing from carol before it is still on its way.
    await alice.next((e) => e.envelope === b64(marker), 'marker at alice');
    expect(alice.events.some((e) => e.envelope === text)).toBe(false);
    expect(bridge.sip!.fragmentsHeld.partials).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('refuses an oversized count, a malformed header and a count that changes', async () => {
    const text = b64(randomEnvelope(300));
    await sendFragment(carol, 'bad-1', text, 1, 2, 400, '1/100000');
    await sendFragment(carol, 'bad-2', text, 1, 2, 400, 'first of two');
    await sendFragment(carol, 'bad-3', text, 1, 2, 202);
    await sendFragment(carol, 'bad-3', text, 2, 2, 400, '2/3');
  }, 180_000);

  it('answers a flood of unique ids from one sender 503 once its share is held; others go on', async () => {
    const text = b64(randomEnvelope(300));
    for (let i = 0; i < 4; i++) await sendFragment(mallory, `flood-${i}`, text, 1, 2, 202);
    await mallory.sendMessage(aliceSipUser, FRAGMENT_TYPE, text, 503, 'Retry-After: [0-9]+', [
      'X-Switchboard-Message-Id: flood-4',
      'X-Switchboard-Fragment: 1/2',
    ]);
    // Another sender's fragmented envelope still goes through.
    const envelope = randomEnvelope(2000);
    await sendFragment(carol, 'after-flood', b64(envelope), 1, 2, 202);
    await sendFragment(carol, 'after-flood', b64(envelope), 2, 2, 200);
    await alice.next((e) => e.envelope === b64(envelope), 'envelope after the flood');
  }, 180_000);
});
