import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { faultTestConfig } from '../support/bridge.js';
import { KamailioServer } from '../support/kamailio.js';
import { start, waitFor } from '../support/processes.js';
import type { Started } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { SippUser } from '../support/sipp.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const BRIDGE_PROCESS = join(
  dirname(fileURLToPath(import.meta.url)),
  '../support/bridge-process.js',
);

/**
 * The bridge itself is stopped (SIGTERM) or killed (SIGKILL) in the middle of a SIP->XMPP
 * stream and started again on the same store: every MESSAGE that got its 200 OK reaches the
 * XMPP user, each number under one id; SIGTERM finishes promptly.
 */
describe('a bridge process stopped or killed mid-stream', () => {
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-restart-'));
  let alice: XmppTestClient;
  let carol: SippUser;
  let bridge: Started | undefined;

  beforeAll(async () => {
    await Promise.all([prosody.init(), kamailio.init()]);
    prosody.register('alice', 'alice-pw');
    await Promise.all([prosody.start(), kamailio.start()]);
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    await alice.ready();
    // Sends the killed bridge never answers give up after 20 s; only answered ones are counted.
    carol = new SippUser('carol', kamailio.domain, kamailio.udpPort, dir, 20);
  });

  afterAll(async () => {
    await bridge?.kill();
    await Promise.allSettled([alice?.close(), carol?.close()]);
    await Promise.allSettled([prosody.dispose(), kamailio.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const startBridge = async (): Promise<Started> => {
    const config = faultTestConfig(prosody, kamailio);
    const proc = start(process.execPath, [
      BRIDGE_PROCESS,
      JSON.stringify(config),
      join(dir, 'bridge.db'),
    ]);
    await waitFor(
      () => (proc.output().includes('ready') ? true : undefined),
      `bridge process ready (${proc.output().slice(-500)})`,
      30_000,
    );
    return proc;
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

  const stream = async (signal: 'SIGTERM' | 'SIGKILL', prefix: string): Promise<void> => {
    bridge = await startBridge();
    const sends = Array.from({ length: 20 }, (_, i) =>
      carol.sendMessage('xmpp_alice=40xmpp.test', 'text/plain', `${prefix}${i}`).then(() => i),
    );
    await waitFor(() => (atAlice(prefix).size >= 1 ? true : undefined), 'first at alice');
    const stopping = bridge;
    await stopping.kill(signal);
    if (signal === 'SIGTERM') {
      // It stopped by itself (killChild escalates to SIGKILL only after its own bound).
      expect(stopping.child.exitCode).toBe(0);
    }
    const acked = (await Promise.allSettled(sends))
      .filter((r): r is PromiseFulfilledResult<number> => r.status === 'fulfilled')
      .map((r) => `${prefix}${r.value}`);
    expect(acked.length).toBeGreaterThan(0);
    bridge = await startBridge();
    await waitFor(
      () => (acked.every((t) => atAlice(prefix).has(t)) ? true : undefined),
      'every acknowledged message at alice',
      60_000,
    );
    // Copies of one message carry one id: the client shows each once.
    for (const ids of atAlice(prefix).values()) expect(ids.size).toBe(1);
    // The new process removed the binding the old one left at the proxy.
    expect(kamailio.contacts(kamailio.bridgeUser)).toBe(1);
    await bridge.kill();
    bridge = undefined;
  };

  it('delivers every acknowledged message after SIGKILL', async () => {
    await stream('SIGKILL', 'K');
  }, 180_000);

  it('stops promptly on SIGTERM and delivers the rest after the next start', async () => {
    await stream('SIGTERM', 'T');
  }, 180_000);
});
