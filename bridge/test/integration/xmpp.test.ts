import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { b64, fileDatabase, makeBridge, randomEnvelope } from '../support/bridge.js';
import { ProsodyServer } from '../support/prosody.js';
import { waitFor } from '../support/processes.js';
import { XmppTestClient } from '../support/xmpp-client.js';

// Real Prosody (Debian) + real slixmpp clients on 127.0.0.1; the bridge as an XEP-0114 component.
describe('XMPP path through real Prosody', () => {
  const prosody = new ProsodyServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-xmpp-'));
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let bob: XmppTestClient;
  const ghostOf = (user: string): string => `xmpp_${user}=40xmpp.test@${prosody.componentDomain}`;

  const xmppConfig = (): Record<string, unknown> => ({
    xmpp: {
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
      reconnectDelayMs: 300,
    },
  });

  beforeAll(async () => {
    await prosody.init();
    prosody.register('alice', 'alice-pw');
    prosody.register('bob', 'bob-pw');
    await prosody.start();
    database = await fileDatabase(join(dir, 'bridge.db'));
    bridge = await makeBridge(xmppConfig(), database);
    await bridge.start();
    await waitFor(() => (bridge.xmpp?.isUp() ? true : undefined), 'component online');
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    bob = new XmppTestClient('bob@xmpp.test', 'bob-pw', prosody.c2sPort);
    await Promise.all([alice.ready(), bob.ready()]);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await bridge?.stop();
    await database?.close();
    await prosody.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries an envelope byte for byte and returns a delivery receipt', async () => {
    const envelope = randomEnvelope(512);
    alice.send({ to: ghostOf('bob'), envelope: b64(envelope), id: 'm1' });
    const got = await bob.next(
      (e) => e.event === 'message' && e.envelope !== null,
      'envelope at bob',
    );
    expect(got.from).toBe(ghostOf('alice'));
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
    expect(got.security).toBeNull();
    const receipt = await alice.next(
      (e) => e.event === 'receipt' && e.id === 'm1',
      'receipt at alice',
    );
    expect(receipt.from?.startsWith(ghostOf('bob'))).toBe(true);
  });

  it('refuses plaintext when relay is off, with an error stanza back to the sender', async () => {
    alice.send({ to: ghostOf('bob'), body: 'hello in the clear', id: 'p1' });
    const err = await alice.next((e) => e.event === 'error' && e.id === 'p1', 'error at alice');
    expect(err.condition).toBe('policy-violation');
    expect(bob.events.some((e) => e.body === 'hello in the clear')).toBe(false);
  });

  it('answers a malformed envelope and an unknown network tag with clear errors', async () => {
    alice.send({ to: ghostOf('bob'), envelope: 'not base64!', id: 'bad1' });
    const bad = await alice.next(
      (e) => e.event === 'error' && e.id === 'bad1',
      'error for bad envelope',
    );
    expect(bad.condition).toBe('bad-request');
    alice.send({ to: `irc_someone@${prosody.componentDomain}`, envelope: 'AQ==', id: 'bad2' });
    const unknown = await alice.next(
      (e) => e.event === 'error' && e.id === 'bad2',
      'error for bad address',
    );
    expect(unknown.condition).toBe('jid-malformed');
  });

  it('reconnects the component and clients after Prosody restarts mid-conversation', async () => {
    const before = randomEnvelope(64);
    bob.send({ to: ghostOf('alice'), envelope: b64(before), id: 'r1' });
    await alice.next((e) => e.envelope === b64(before), 'message before restart');

    await prosody.stop();
    await waitFor(() => (bridge.xmpp?.isUp() ? undefined : true), 'component offline');
    await prosody.start();
    await Promise.all([alice.ready(2), bob.ready(2)]);
    await waitFor(() => (bridge.xmpp?.isUp() ? true : undefined), 'component back online');

    const after = randomEnvelope(64);
    bob.send({ to: ghostOf('alice'), envelope: b64(after), id: 'r2' });
    const got = await alice.next((e) => e.envelope === b64(after), 'message after restart');
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(after));
  });
});
