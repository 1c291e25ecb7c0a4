import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { ENVELOPE_EVENT_TYPE } from '../../src/translators/matrix.js';
import { b64, fileDatabase, makeBridge, randomEnvelope } from '../support/bridge.js';
import { HomeserverDouble } from '../support/homeserver-double.js';
import { waitFor } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const AS_TOKEN = 'as-token-for-tests-0123456789';
const HS_TOKEN = 'hs-token-for-tests-0123456789';
/** A top-level scalar of the registration YAML (plain or quoted). */
const yamlField = (yaml: string, key: string): string =>
  (new RegExp(`^${key}: *(.*)$`, 'm').exec(yaml)?.[1] ?? '').replace(/^(['"])(.*)\1$/, '$2');
const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli.js');

// The Matrix side against a homeserver double that behaves like the peer the bridge was tried
// against (Synapse 1.67): legacy transaction paths, no redirects, transaction ids from 1 again
// after a restart, events in a room pushed only once a ghost joined it. Real Prosody + slixmpp
// on the other side.
describe('Matrix against a restarting, legacy homeserver', () => {
  const prosody = new ProsodyServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-mxf-'));
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
  let asUrl = '';
  const dave = hs.addLocalUser('dave');
  const erin = hs.addLocalUser('erin');
  const frank = hs.addLocalUser('frank');
  const aliceGhost = '@_switchboard_xmpp_alice=40xmpp.test:hs.test';
  const jidOf = (localpart: string): string =>
    `mx_=40${localpart}=3ahs.test@${prosody.componentDomain}`;
  let daveRoom = '';
  let erinRoom = '';

  const config = (port: number, eventRetryBudgetMs = 900_000): Record<string, unknown> => ({
    plaintextRelay: true,
    http: { host: '127.0.0.1', port },
    xmpp: {
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
      reconnectDelayMs: 300,
    },
    matrix: {
      homeserverUrl: hs.url,
      domain: 'hs.test',
      id: 'switchboard',
      asToken: AS_TOKEN,
      hsToken: HS_TOKEN,
      probeIntervalMs: 300,
      eventRetryBudgetMs,
    },
  });

  /** Starts a bridge (on the port of the one before, so the registration stays valid). */
  const startBridge = async (port = 0, eventRetryBudgetMs?: number): Promise<void> => {
    bridge = await makeBridge(config(port, eventRetryBudgetMs), database);
    await bridge.start();
    await waitFor(() => (bridge.matrix?.isUp() && bridge.xmpp?.isUp() ? true : undefined), 'up');
  };

  /** The registration file as an operator makes it: written by the CLI from the config file. */
  const writeRegistration = async (): Promise<string> => {
    const port = Number(new URL(bridge.httpUrl).port);
    const configPath = join(dir, 'bridge.json');
    writeFileSync(configPath, JSON.stringify({ databaseUrl: 'sqlite::memory:', ...config(port) }));
    const out = join(dir, 'registration.yaml');
    await promisify(execFile)(process.execPath, [
      CLI,
      'registration',
      '--config',
      configPath,
      '--out',
      out,
    ]);
    return yamlField(readFileSync(out, 'utf8'), 'url');
  };

  const envelopesAtAlice = (from: string, wanted: readonly string[]): string[] =>
    alice.events
      .map((e) => (e.from === from && typeof e.envelope === 'string' ? e.envelope : ''))
      .filter((e) => wanted.includes(e));

  const sendEnvelopes = (room: string, n: number): string[] =>
    Array.from({ length: n }, () => {
      const envelope = b64(randomEnvelope(40));
      hs.sendAs(dave, room, ENVELOPE_EVENT_TYPE, { envelope });
      return envelope;
    });

  beforeAll(async () => {
    await Promise.all([prosody.init(), hs.start()]);
    prosody.register('alice', 'alice-pw');
    await prosody.start();
    database = await fileDatabase(join(dir, 'bridge.db'));
    await startBridge();
    asUrl = await writeRegistration();
    hs.setAppServiceUrl(asUrl);
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    await alice.ready();
  });

  afterAll(async () => {
    await alice?.close();
    await bridge?.stop();
    await database?.close();
    await Promise.allSettled([prosody.dispose(), hs.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('receives transactions with the CLI registration from homeservers old (legacy paths) and new (v1 paths)', async () => {
    expect(new URL(asUrl).pathname).toBe('/');
    // One conversation per homeserver form (a second room for the same pair is not a portal).
    for (const [paths, user] of [
      ['legacy', dave],
      ['v1', erin],
    ] as const) {
      hs.pushPaths = paths;
      const room = hs.createRoomAs(user, [aliceGhost]);
      await waitFor(
        () => (hs.rooms.get(room)?.members.get(aliceGhost) === 'join' ? true : undefined),
        `ghost joined (${paths})`,
      );
      const envelope = b64(randomEnvelope(40));
      hs.sendAs(user, room, ENVELOPE_EVENT_TYPE, { envelope });
      await alice.next((e) => e.envelope === envelope, `envelope at alice (${paths})`);
      if (user === dave) daveRoom = room;
      else erinRoom = room;
    }
    hs.pushPaths = 'legacy';
    expect(hs.pushed.filter((p) => p.status >= 300 && p.status < 400)).toEqual([]);
  });

  it('loses and duplicates nothing, either way, when the homeserver restarts mid-stream and reuses transaction ids', async () => {
    const sent: string[] = [];
    const toDave: string[] = [];
    const fromAlice = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const envelope = b64(randomEnvelope(30));
        toDave.push(envelope);
        alice.send({ to: jidOf('dave'), envelope, id: `to-dave-${toDave.length}` });
      }
    };
    for (let round = 0; round < 3; round++) {
      const before = hs.pushed.filter((p) => p.status === 200).length;
      sent.push(...sendEnvelopes(daveRoom, 8));
      fromAlice(3);
      // Restart once a few transactions of this round were acknowledged, others still queued.
      await waitFor(
        () => (hs.pushed.filter((p) => p.status === 200).length >= before + 3 ? true : undefined),
        'some transactions acknowledged',
      );
      await hs.restart();
    }
    sent.push(...sendEnvelopes(daveRoom, 4));
    fromAlice(2);
    const inDaveRoom = (): string[] =>
      hs
        .eventsIn(daveRoom, ENVELOPE_EVENT_TYPE)
        .map((e) => String(e.content['envelope']))
        .filter((e) => toDave.includes(e));
    await waitFor(
      () =>
        envelopesAtAlice(jidOf('dave'), sent).length >= sent.length &&
        inDaveRoom().length >= toDave.length
          ? true
          : undefined,
      'every envelope delivered both ways',
      30000,
    );
    await hs.drained();
    await bridge.core.idle();
    // Transaction ids were reused after each restart...
    expect(hs.pushed.filter((p) => p.txnId === '1').length).toBeGreaterThanOrEqual(3);
    // ...and every message arrived exactly once, in order.
    expect(envelopesAtAlice(jidOf('dave'), sent)).toEqual(sent);
    expect(inDaveRoom()).toEqual(toDave);
  });

  it('does not post a message twice when the answer to its send was lost and the homeserver restarted', async () => {
    hs.loseSendAnswers = 1;
    const envelope = b64(randomEnvelope(33));
    alice.send({ to: jidOf('dave'), envelope, id: 'answer-lost' });
    const posted = (): number =>
      hs.eventsIn(daveRoom, ENVELOPE_EVENT_TYPE).filter((e) => e.content['envelope'] === envelope)
        .length;
    await waitFor(() => (posted() > 0 ? true : undefined), 'posted, answer lost');
    await hs.restart(); // forgets the send's transaction id, as Synapse does
    await alice.next((e) => e.event === 'receipt' && e.id === 'answer-lost', 'receipt');
    await bridge.core.idle();
    expect(posted()).toBe(1);
  });

  it('processes an event pushed again under another transaction id once, also after a bridge restart', async () => {
    const command = {
      event_id: '$command-once',
      room_id: daveRoom,
      sender: dave,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: '!switchboard presence off' },
      origin_server_ts: Date.now(),
    };
    const replies = (): number =>
      hs
        .eventsIn(daveRoom, 'm.room.message')
        .filter((e) => String(e.content['body']).includes('no longer shared')).length;
    expect(await hs.pushRaw('900', { events: [command] })).toBe(200);
    expect(await hs.pushRaw('901', { events: [command] })).toBe(200);
    const port = Number(new URL(bridge.httpUrl).port);
    await bridge.stop();
    await startBridge(port);
    expect(await hs.pushRaw('1', { events: [command] })).toBe(200);
    expect(replies()).toBe(1);
  });

  const health = async (): Promise<{ status: number; matrix: unknown }> => {
    const res = await fetch(`${bridge.httpUrl}/health`);
    const body = (await res.json()) as { networks: Record<string, unknown> };
    return { status: res.status, matrix: body.networks['matrix'] };
  };

  it('answers 200 to invites it cannot act on (the bot, junk ghosts, an unjoinable room) and keeps carrying messages', async () => {
    const from = hs.pushed.length;
    const botRoom = hs.createRoomAs(dave, [hs.botUserId]);
    hs.createRoomAs(dave, ['@_switchboard_bot:hs.test', '@_switchboard_irc_x:hs.test']);
    hs.faults.push({ path: /\/join$/, status: 403 });
    hs.createRoomAs(dave, ['@_switchboard_xmpp_bob=40xmpp.test:hs.test']);
    await hs.drained();
    hs.faults.length = 0;
    // The bot declines invitations (it runs no rooms).
    await waitFor(
      () => (hs.rooms.get(botRoom)?.members.has(hs.botUserId) ? undefined : true),
      'bot declined',
    );
    const [envelope] = sendEnvelopes(daveRoom, 1);
    await alice.next((e) => e.envelope === envelope, 'envelope after the bad invites');
    expect(hs.pushed.slice(from).filter((p) => p.status !== 200)).toEqual([]);
    expect((await health()).status).toBe(200);
  });

  it('reports a failing Matrix path in /health until transactions succeed again', async () => {
    expect(await health()).toEqual({ status: 200, matrix: true });
    hs.faults.push({ path: /\/join$/, status: 500 });
    const room = hs.createRoomAs(dave, ['@_switchboard_xmpp_carl=40xmpp.test:hs.test']);
    await waitFor(
      () => (hs.pushed.some((p) => p.status === 500) ? true : undefined),
      'a transaction answered 500',
    );
    expect(await health()).toEqual({ status: 503, matrix: false });
    hs.faults.length = 0;
    await waitFor(
      () =>
        hs.rooms.get(room)?.members.get('@_switchboard_xmpp_carl=40xmpp.test:hs.test') === 'join'
          ? true
          : undefined,
      'ghost joined after the fault',
    );
    await hs.drained();
    expect(await health()).toEqual({ status: 200, matrix: true });
  });

  it('opens a new portal when the Matrix user left, instead of posting into the empty room', async () => {
    hs.leaveAs(erin, erinRoom);
    await hs.drained();
    const envelope = b64(randomEnvelope(50));
    alice.send({ to: jidOf('erin'), envelope, id: 'after-leave' });
    const portal = await waitFor(
      () => hs.roomsWith(erin).find((r) => r.id !== erinRoom && r.creator === aliceGhost),
      'a new portal for erin',
    );
    expect(portal.members.get(erin)).toBe('invite');
    const receipt = await alice.next(
      (e) => e.event === 'receipt' && e.id === 'after-leave',
      'receipt once posted in the new portal',
    );
    expect(receipt.from).toBe(jidOf('erin'));
    expect(hs.eventsIn(portal.id, ENVELOPE_EVENT_TYPE).map((e) => e.content['envelope'])).toEqual([
      envelope,
    ]);
    // Nothing went into the room erin left, and the ghost left it too.
    expect(
      hs.eventsIn(erinRoom, ENVELOPE_EVENT_TYPE).filter((e) => e.content['envelope'] === envelope),
    ).toEqual([]);
    await waitFor(
      () => (hs.rooms.get(erinRoom)?.members.has(aliceGhost) ? undefined : true),
      'ghost left the abandoned room',
    );
  });

  it('bridges messages sent in a new DM before the ghost joined, once, in order', async () => {
    // Sent right after the invitation, before the bridge could join: the homeserver pushes
    // none of these (no user of the AS had joined), so the bridge must fetch them.
    const room = hs.createRoomAs(frank, [aliceGhost]);
    const early = [b64(randomEnvelope(60)), b64(randomEnvelope(61))];
    for (const envelope of early) hs.sendAs(frank, room, ENVELOPE_EVENT_TYPE, { envelope });
    await waitFor(
      () => (envelopesAtAlice(jidOf('frank'), early).length >= 2 ? true : undefined),
      'early messages at alice',
    );
    const later = b64(randomEnvelope(62));
    hs.sendAs(frank, room, ENVELOPE_EVENT_TYPE, { envelope: later });
    await alice.next((e) => e.envelope === later, 'later message at alice');
    await hs.drained();
    await bridge.core.idle();
    expect(envelopesAtAlice(jidOf('frank'), [...early, later])).toEqual([...early, later]);
  });

  it('gives ghosts display names, without phone numbers', async () => {
    expect(hs.displayNames.get(aliceGhost)).toBe('alice@xmpp.test (XMPP)');
    const phoneGhost = '@_switchboard_tel_15550100:hs.test';
    const res = await fetch(`${asUrl}/_matrix/app/v1/users/${encodeURIComponent(phoneGhost)}`, {
      headers: { authorization: `Bearer ${HS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const name = hs.displayNames.get(phoneGhost);
    expect(name).toBeDefined();
    expect(name).not.toMatch(/[0-9]/);
  });

  it('gives up an event that keeps failing after its retry budget, so later events flow', async () => {
    const port = Number(new URL(bridge.httpUrl).port);
    await bridge.stop();
    await startBridge(port, 500);
    hs.faults.push({ path: /\/join$/, status: 502 });
    const stuck = hs.createRoomAs(dave, ['@_switchboard_xmpp_dora=40xmpp.test:hs.test']);
    const [envelope] = sendEnvelopes(daveRoom, 1);
    // Behind the failing invitation until it is given up; then it is carried.
    await alice.next((e) => e.envelope === envelope, 'envelope behind the given-up event');
    hs.faults.length = 0;
    expect(hs.pushed.some((p) => p.status === 500)).toBe(true);
    expect(hs.rooms.get(stuck)?.members.get('@_switchboard_xmpp_dora=40xmpp.test:hs.test')).toBe(
      'invite',
    );
    await hs.drained();
    expect(await health()).toEqual({ status: 200, matrix: true });
  });
});
