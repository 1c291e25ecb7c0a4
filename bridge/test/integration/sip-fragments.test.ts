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
import { XmppTestClient } from '../support/xmpp-client.js';

describe('envelopes XMPP -> SIP -> XMPP through real Prosody and Kamailio', () => {
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-frag-'));
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let bob: XmppTestClient;
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
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
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
});
