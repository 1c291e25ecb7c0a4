import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { faultTestConfig, fileDatabase, makeBridge } from '../support/bridge.js';
import { EjabberdServer } from '../support/ejabberd.js';
import { KamailioServer } from '../support/kamailio.js';
import { waitFor } from '../support/processes.js';
import { SippUser } from '../support/sipp.js';
import type { SippInbox } from '../support/sipp.js';
import { XmppTestClient } from '../support/xmpp-client.js';

/**
 * The same guarantees against ejabberd instead of Prosody: SIP->XMPP streams across an
 * ejabberd restart and an ejabberd SIGKILL lose no acknowledged message and show each once;
 * an unknown XMPP recipient's bounce reaches the SIP sender.
 */
describe('delivery through a restarting ejabberd', () => {
  const ejabberd = new EjabberdServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-ejabberd-'));
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let carol: SippUser;
  let inbox: SippInbox;

  beforeAll(async () => {
    await Promise.all([ejabberd.init(), kamailio.init()]);
    await Promise.all([ejabberd.start(), kamailio.start()]);
    await ejabberd.register('alice', 'alice-pw');
    database = await fileDatabase(join(dir, 'bridge.db'));
    bridge = await makeBridge(faultTestConfig(ejabberd, kamailio), database);
    await bridge.start();
    await waitFor(() => (bridge.xmpp?.isUp() && bridge.sip?.isUp() ? true : undefined), 'up');
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', ejabberd.c2sPort);
    await alice.ready();
    carol = new SippUser('carol', kamailio.domain, kamailio.udpPort, dir);
    inbox = await carol.inbox();
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), carol?.close()]);
    await bridge?.stop();
    await database?.close();
    await Promise.allSettled([ejabberd.dispose(), kamailio.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

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

  const stream = async (signal: 'SIGTERM' | 'SIGKILL', prefix: string): Promise<void> => {
    const n = 20;
    const send = (i: number): Promise<void> =>
      carol.sendMessage('xmpp_alice=40xmpp.test', 'text/plain', `${prefix}${i}`);
    const first = Array.from({ length: n / 2 }, (_, i) => send(i));
    await waitFor(() => (atAlice(prefix).size >= 1 ? true : undefined), 'first at alice', 60_000);
    const readyBefore = alice.events.filter((e) => e.event === 'ready').length;
    if (signal === 'SIGKILL') {
      // Hung, then killed: what the bridge wrote meanwhile sits unread in the server's socket.
      ejabberd.freeze();
    }
    // Every MESSAGE gets its 200 OK: the bridge has recorded it.
    await Promise.all([...first, ...Array.from({ length: n / 2 }, (_, i) => send(n / 2 + i))]);
    await ejabberd.stop(signal);
    await waitFor(async () => ((await bridge.health()).ok ? undefined : true), 'unhealthy');
    await ejabberd.start();
    await alice.ready(readyBefore + 1, 90_000);
    await waitFor(() => (atAlice(prefix).size === n ? true : undefined), 'all at alice', 90_000);
    expect([...atAlice(prefix).keys()].sort()).toEqual(
      Array.from({ length: n }, (_, i) => `${prefix}${i}`).sort(),
    );
    for (const ids of atAlice(prefix).values()) expect(ids.size).toBe(1);
    await waitFor(
      async () => ((await bridge.store.pendingCount()) === 0 ? true : undefined),
      'outbox drained',
      60_000,
    );
    await waitFor(async () => ((await bridge.health()).ok ? true : undefined), 'healthy');
  };

  it('loses nothing when ejabberd restarts mid-stream', async () => {
    await stream('SIGTERM', 'r');
  }, 240_000);

  it('loses nothing when ejabberd hangs and is killed mid-stream', async () => {
    await stream('SIGKILL', 'k');
  }, 240_000);

  it('tells a SIP sender when ejabberd bounces the message', async () => {
    await carol.sendMessage('xmpp_nobody=40xmpp.test', 'text/plain', 'to nobody');
    const notice = await waitFor(
      () => inbox.received().find((m) => m.body.includes('could not be delivered')),
      'bounce notice at carol',
      60_000,
    );
    expect(decodeURIComponent(notice.headers['from']!)).toContain('xmpp_nobody=40xmpp.test');
  }, 120_000);
});
