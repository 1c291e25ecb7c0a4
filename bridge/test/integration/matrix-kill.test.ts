import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVELOPE_EVENT_TYPE } from '../../src/translators/matrix.js';
import { b64, randomEnvelope } from '../support/bridge.js';
import { HomeserverDouble } from '../support/homeserver-double.js';
import { freePort, start, waitFor } from '../support/processes.js';
import type { Started } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const BRIDGE_PROCESS = join(
  dirname(fileURLToPath(import.meta.url)),
  '../support/bridge-process.js',
);
const AS_TOKEN = 'as-token-for-kill-tests-0123456789';
const HS_TOKEN = 'hs-token-for-kill-tests-0123456789';

/**
 * The bridge process is killed with SIGKILL while envelopes stream both ways between a Matrix
 * user (homeserver double, pushing like Synapse 1.67) and an XMPP user (real Prosody), then
 * started again on the same store and port. Every transaction the bridge answered 200 and
 * every event the homeserver pushes again reach XMPP; every message the XMPP user got a
 * receipt for is in the room; each is shown once.
 */
describe('a bridge process killed mid-stream between Matrix and XMPP', () => {
  const prosody = new ProsodyServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-mxkill-'));
  const hs = new HomeserverDouble({
    domain: 'hs.test',
    asToken: AS_TOKEN,
    hsToken: HS_TOKEN,
    userNamespace: /^@_switchboard_.*:hs\.test$/,
    senderLocalpart: 'switchboardbot',
  });
  const dave = hs.addLocalUser('dave');
  const aliceGhost = '@_switchboard_xmpp_alice=40xmpp.test:hs.test';
  let alice: XmppTestClient;
  let bridge: Started | undefined;
  let port = 0;
  const daveJid = (): string => `mx_=40dave=3ahs.test@${prosody.componentDomain}`;

  beforeAll(async () => {
    await Promise.all([prosody.init(), hs.start()]);
    prosody.register('alice', 'alice-pw');
    await prosody.start();
    port = await freePort();
    hs.setAppServiceUrl(`http://127.0.0.1:${port}`);
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    await alice.ready();
  });

  afterAll(async () => {
    await bridge?.kill();
    await alice?.close();
    await Promise.allSettled([prosody.dispose(), hs.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const startBridge = async (): Promise<Started> => {
    const config = {
      plaintextRelay: true,
      rateLimit: { capacity: 1000, perSeconds: 1 },
      deliveryTimeoutMs: 5000,
      http: { host: '127.0.0.1', port },
      metrics: { host: '127.0.0.1', port: 0 },
      xmpp: {
        service: `xmpp://127.0.0.1:${prosody.componentPort}`,
        domain: prosody.componentDomain,
        secret: prosody.componentSecret,
        reconnectDelayMs: 300,
      },
      matrix: {
        homeserverUrl: hs.url,
        domain: 'hs.test',
        asToken: AS_TOKEN,
        hsToken: HS_TOKEN,
        probeIntervalMs: 300,
      },
    };
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

  /** Envelopes at alice from dave's ghost, each with the stanza ids its copies carried. */
  const atAlice = (): Map<string, Set<string>> => {
    const seen = new Map<string, Set<string>>();
    for (const e of alice.events) {
      if (e.event !== 'message' || e.from !== daveJid() || typeof e.envelope !== 'string') continue;
      const ids = seen.get(e.envelope) ?? new Set<string>();
      ids.add(e.id ?? '');
      seen.set(e.envelope, ids);
    }
    return seen;
  };

  it('loses no acknowledged message and shows none twice, either way, after SIGKILL', async () => {
    bridge = await startBridge();
    const room = hs.createRoomAs(dave, [aliceGhost]);
    await waitFor(
      () => (hs.rooms.get(room)?.members.get(aliceGhost) === 'join' ? true : undefined),
      'ghost joined',
    );
    const fromDave = Array.from({ length: 30 }, () => b64(randomEnvelope(60)));
    const fromAlice = Array.from({ length: 15 }, () => b64(randomEnvelope(61)));
    const daveSends = (from: number, to: number): void =>
      fromDave
        .slice(from, to)
        .forEach((envelope) => hs.sendAs(dave, room, ENVELOPE_EVENT_TYPE, { envelope }));
    const aliceSends = (from: number, to: number): void => {
      for (let i = from; i < to; i++)
        alice.send({ to: daveJid(), envelope: fromAlice[i]!, id: `a${i}` });
    };
    daveSends(0, 20);
    aliceSends(0, 10);
    await waitFor(() => (atAlice().size >= 3 ? true : undefined), 'first at alice', 60_000);
    await bridge.kill('SIGKILL');
    // The stream goes on while the bridge is dead: the homeserver's pushes fail and are
    // retried, the XMPP server bounces alice's messages to the missing component.
    const failedBefore = hs.pushed.filter((p) => p.status !== 200).length;
    daveSends(20, 30);
    aliceSends(10, 15);
    await waitFor(
      () => (hs.pushed.filter((p) => p.status !== 200).length > failedBefore ? true : undefined),
      'a push to the dead bridge failed',
    );
    bridge = await startBridge();

    // Matrix -> XMPP: the homeserver pushes what was not acknowledged again; what was
    // acknowledged is in the store. Every event arrives, each under one stanza id.
    await waitFor(
      () => (fromDave.every((e) => atAlice().has(e)) ? true : undefined),
      'every envelope from dave at alice',
      120_000,
    );
    for (const ids of atAlice().values()) expect(ids.size).toBe(1);
    await hs.drained();

    // XMPP -> Matrix: a message alice got a receipt for is in the room, and nothing twice.
    const inRoom = (): string[] =>
      hs
        .eventsIn(room, ENVELOPE_EVENT_TYPE)
        .map((e) => String(e.content['envelope']))
        .filter((e) => fromAlice.includes(e));
    const receipted = (): string[] =>
      fromAlice.filter((_, i) =>
        alice.events.some((e) => e.event === 'receipt' && e.id === `a${i}`),
      );
    // Wait until each of alice's messages is settled: in the room, or bounced to her while
    // the bridge was down (never taken), or read by the killed process and never stored.
    await waitFor(
      () => (receipted().every((e) => inRoom().includes(e)) ? true : undefined),
      'every receipted message in the room',
      60_000,
    );
    // Messages posted after the restart are receipted too: wait for the outbox to be empty.
    const marker = b64(randomEnvelope(62));
    alice.send({ to: daveJid(), envelope: marker, id: 'marker' });
    await alice.next((e) => e.event === 'receipt' && e.id === 'marker', 'marker receipt', 60_000);
    expect(inRoom().length).toBe(new Set(inRoom()).size);
    expect(receipted().every((e) => inRoom().includes(e))).toBe(true);
    expect(receipted().length).toBeGreaterThan(0);
  }, 300_000);
});
