import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { faultTestConfig, fileDatabase, makeBridge } from '../support/bridge.js';
import { KamailioServer } from '../support/kamailio.js';
import { waitFor } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { SippUser } from '../support/sipp.js';
import type { SippInbox } from '../support/sipp.js';
import { XmppTestClient } from '../support/xmpp-client.js';

/**
 * Fault injection against real Prosody and Kamailio: the servers restart in the middle of
 * numbered streams. Every acknowledged message arrives, and copies (at-least-once delivery)
 * always carry the id of the first, so a receiver that drops repeated ids shows each once.
 */
describe('delivery through restarting XMPP and SIP servers', () => {
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-faults-'));
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let carol: SippUser;
  let inbox: SippInbox;
  const carolGhostJid = (): string => `sip_carol=40sip.test@${prosody.componentDomain}`;
  const aliceSipUser = 'xmpp_alice=40xmpp.test';

  beforeAll(async () => {
    await Promise.all([prosody.init(), kamailio.init()]);
    prosody.register('alice', 'alice-pw');
    await Promise.all([prosody.start(), kamailio.start()]);
    database = await fileDatabase(join(dir, 'bridge.db'));
    bridge = await makeBridge(faultTestConfig(prosody, kamailio), database);
    await bridge.start();
    await waitFor(() => (bridge.xmpp?.isUp() && bridge.sip?.isUp() ? true : undefined), 'up');
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    await alice.ready();
    carol = new SippUser('carol', kamailio.domain, kamailio.udpPort, dir);
    inbox = await carol.inbox();
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), carol?.close()]);
    await bridge?.stop();
    await database?.close();
    await Promise.allSettled([prosody.dispose(), kamailio.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Received bodies with this prefix, by number, each with the ids its copies carried. */
  const atCarol = (prefix: string): Map<string, Set<string>> => {
    const seen = new Map<string, Set<string>>();
    for (const m of inbox.received()) {
      const text = m.body.replace('[end-to-bridge] ', '').trim();
      if (!text.startsWith(prefix)) continue;
      const ids = seen.get(text) ?? new Set<string>();
      ids.add(m.headers['x-switchboard-message-id'] ?? '');
      seen.set(text, ids);
    }
    return seen;
  };
  const atAlice = (prefix: string): Map<string, Set<string>> => {
    const seen = new Map<string, Set<string>>();
    for (const e of alice.events) {
      const text = e.body?.replace('[end-to-bridge] ', '').trim();
      if (e.event !== 'message' || !text?.startsWith(prefix)) continue;
      const ids = seen.get(text) ?? new Set<string>();
      ids.add(e.id ?? '');
      seen.set(text, ids);
    }
    return seen;
  };
  const expectEachOnce = (seen: Map<string, Set<string>>, prefix: string, n: number): void => {
    expect([...seen.keys()].sort()).toEqual(
      Array.from({ length: n }, (_, i) => `${prefix}${i}`).sort(),
    );
    for (const ids of seen.values()) expect(ids.size).toBe(1);
  };
  const drained = async (): Promise<void> => {
    await waitFor(
      async () => ((await bridge.store.pendingCount()) === 0 ? true : undefined),
      'outbox drained',
      60_000,
    );
    await waitFor(async () => ((await bridge.health()).ok ? true : undefined), 'healthy');
  };

  it('keeps delivering XMPP->SIP when Kamailio restarts mid-stream', async () => {
    const n = 30;
    for (let i = 0; i < n / 2; i++) alice.send({ to: carolGhostJid(), body: `k${i}`, id: `k${i}` });
    await waitFor(() => (atCarol('k').size >= 2 ? true : undefined), 'first at carol');
    await kamailio.stop();
    await waitFor(async () => ((await bridge.health()).ok ? undefined : true), 'unhealthy');
    for (let i = n / 2; i < n; i++) alice.send({ to: carolGhostJid(), body: `k${i}`, id: `k${i}` });
    await kamailio.start();
    await inbox.register();
    await waitFor(() => (atCarol('k').size === n ? true : undefined), 'all at carol', 90_000);
    expectEachOnce(atCarol('k'), 'k', n);
    await drained();
  }, 180_000);

  it('keeps delivering SIP->XMPP when Prosody hangs and is killed mid-stream', async () => {
    const n = 20;
    const send = (i: number): Promise<void> =>
      carol.sendMessage(aliceSipUser, 'text/plain', `p${i}`);
    const first = Array.from({ length: n / 2 }, (_, i) => send(i));
    await waitFor(() => (atAlice('p').size >= 1 ? true : undefined), 'first at alice', 60_000);
    const readyBefore = alice.events.filter((e) => e.event === 'ready').length;
    // Hung, then killed: what the bridge wrote meanwhile sits unread in the server's socket.
    prosody.freeze();
    // Every MESSAGE gets its 200 OK: the bridge has recorded it.
    await Promise.all([...first, ...Array.from({ length: n / 2 }, (_, i) => send(n / 2 + i))]);
    await prosody.stop('SIGKILL');
    await prosody.start();
    await alice.ready(readyBefore + 1, 60_000);
    await waitFor(() => (atAlice('p').size === n ? true : undefined), 'all at alice', 90_000);
    expectEachOnce(atAlice('p'), 'p', n);
    await drained();
  }, 180_000);

  it('tells a SIP sender when the XMPP server bounces the message', async () => {
    await carol.sendMessage('xmpp_nobody=40xmpp.test', 'text/plain', 'to nobody');
    const notice = await waitFor(
      () => inbox.received().find((m) => m.body.includes('could not be delivered')),
      'bounce notice at carol',
      60_000,
    );
    expect(decodeURIComponent(notice.headers['from']!)).toContain('xmpp_nobody=40xmpp.test');
    expect(notice.body).not.toContain('to nobody');
    await drained();
  }, 180_000);

  it('tells an offline SIP sender about a bounce once back, across a bridge restart', async () => {
    const dave = new SippUser('dave', kamailio.domain, kamailio.udpPort, dir);
    try {
      // Dave has no registered contact: the proxy answers the bridge's notice 480.
      await dave.sendMessage('xmpp_nobody2=40xmpp.test', 'text/plain', 'while dave is away');
      await waitFor(
        async () => ((await bridge.store.noticesDue()).length === 1 ? true : undefined),
        'notice owed',
        60_000,
      );
      await bridge.stop();
      bridge = await makeBridge(faultTestConfig(prosody, kamailio), database);
      await bridge.start();
      const daveInbox = await dave.inbox();
      const notice = await waitFor(
        () => daveInbox.received().find((m) => m.body.includes('could not be delivered')),
        'notice at dave',
        90_000,
      );
      expect(decodeURIComponent(notice.headers['from']!)).toContain('xmpp_nobody2=40xmpp.test');
      await waitFor(
        async () => ((await bridge.store.noticesDue()).length === 0 ? true : undefined),
        'no notice owed',
      );
      expect(daveInbox.received().filter((m) => m.body.includes('could not be'))).toHaveLength(1);
    } finally {
      await dave.close();
    }
  }, 240_000);
});
