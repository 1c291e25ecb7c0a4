import { openTestDatabase } from '@switchboard/db/testing';
import type { TestDatabase } from '@switchboard/db/testing';
import { createLogger } from '@switchboard/service-kit';
import { BridgeCore, MAX_DELIVERY_ATTEMPTS, timeOrderedId } from '../src/core/core.js';
import type { NetworkConnector } from '../src/core/core.js';
import { BridgeError } from '../src/model/errors.js';
import { BridgeMetrics } from '../src/core/metrics.js';
import type {
  Address,
  InboundMessage,
  Network,
  OutboundMessage,
  Target,
} from '../src/model/model.js';
import type { Resolver } from '../src/routing/routing.js';
import { BridgeStore } from '../src/store/bridge-store.js';

/** An in-memory network for core tests: records deliveries, can be switched off. */
class RecordingNetwork implements NetworkConnector {
  up = true;
  reject = false;
  readonly sent: OutboundMessage[] = [];
  readonly notices: string[] = [];
  readonly receipts: string[] = [];
  constructor(readonly network: Network) {}
  isUp(): boolean {
    return this.up;
  }
  deliver(msg: OutboundMessage): Promise<string | void> {
    if (!this.up) return Promise.reject(new BridgeError('network-unavailable', 'down'));
    if (this.reject) return Promise.reject(new BridgeError('delivery-rejected', 'no'));
    this.sent.push(msg);
    return Promise.resolve();
  }
  notify(_to: Address, _about: Target, text: string): Promise<void> {
    this.notices.push(text);
    return Promise.resolve();
  }
  delivered(_to: Address, _about: Target, nativeId: string): Promise<void> {
    this.receipts.push(nativeId);
    return Promise.resolve();
  }
}

const resolver: Resolver = {
  lookup: (e164) =>
    Promise.resolve(
      e164 === '+15550100'
        ? {
            contacts: [
              { uri: 'irc:nope' },
              { uri: 'sip:alice@sip.test' },
              { uri: 'matrix:u/alice:hs.test' },
            ],
          }
        : e164 === '+15550199'
          ? Promise.reject(new Error('dns down'))
          : null,
    ),
};

describe('BridgeCore', () => {
  let database: TestDatabase<unknown>;
  let core: BridgeCore;
  let store: BridgeStore;
  let sip: RecordingNetwork;
  let matrix: RecordingNetwork;
  let xmpp: RecordingNetwork;
  let now = 0;

  const build = (plaintextRelay = false, deliveryTimeoutMs = 30_000): void => {
    core = new BridgeCore({
      deliveryTimeoutMs,
      store,
      resolver,
      metrics: new BridgeMetrics(),
      logger: createLogger({ service: 't', level: 'silent' }),
      plaintextRelay,
      rateLimit: { capacity: 3, perSeconds: 60 },
      now: () => now,
    });
    for (const n of [sip, matrix, xmpp]) core.register(n);
  };

  beforeEach(async () => {
    database = await openTestDatabase<unknown>('sqlite');
    store = await BridgeStore.open(database.db, database.dialect, () => now);
    sip = new RecordingNetwork('sip');
    matrix = new RecordingNetwork('matrix');
    xmpp = new RecordingNetwork('xmpp');
    build();
  });
  afterEach(async () => {
    await core.stop();
    await database.dispose();
  });

  const bytes = new Uint8Array([9, 8, 7]);
  const msg = (target: Target, nativeId = 'n1', from = 'bob@xmpp.test'): InboundMessage => ({
    from: { network: 'xmpp', id: from },
    target,
    payload: { kind: 'envelope', bytes },
    nativeId,
    wantsReceipt: true,
  });
  const phone = (e164: string): Target => ({ kind: 'phone', e164 });

  it('routes a number to the first reachable contact in NAPTR order, skipping unusable URIs', async () => {
    await core.accept('xmpp', msg(phone('+15550100')));
    await core.idle();
    expect(sip.sent).toHaveLength(1);
    expect(sip.sent[0]!.to).toEqual({ network: 'sip', id: 'alice@sip.test' });
    expect(sip.sent[0]!.payload).toEqual({ kind: 'envelope', bytes });
    expect(xmpp.receipts).toEqual(['n1']);
  });

  it('falls back to the next contact method when a network is unreachable', async () => {
    sip.up = false;
    await core.accept('xmpp', msg(phone('+15550100')));
    await core.idle();
    expect(sip.sent).toHaveLength(0);
    expect(matrix.sent[0]!.to).toEqual({ network: 'matrix', id: '@alice:hs.test' });
  });

  it('keeps a message when no route is up and delivers it once one comes back', async () => {
    sip.up = false;
    matrix.up = false;
    await core.accept('xmpp', msg(phone('+15550100')));
    await core.idle();
    expect(await store.pendingCount()).toBe(1);
    sip.up = true;
    core.flush();
    await core.idle();
    expect(sip.sent).toHaveLength(1);
    expect(await store.pendingCount()).toBe(0);
  });

  it('answers unknown numbers and failed lookups with typed errors and stores nothing', async () => {
    await expect(core.accept('xmpp', msg(phone('+15550111')))).rejects.toMatchObject({
      code: 'number-not-found',
    });
    await expect(core.accept('xmpp', msg(phone('+15550199')))).rejects.toMatchObject({
      code: 'lookup-failed',
    });
    expect(await store.pendingCount()).toBe(0);
  });

  it('delivers a retransmission once', async () => {
    const target: Target = { kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } };
    const first = await core.accept('xmpp', msg(target, 'same'));
    const second = await core.accept('xmpp', msg(target, 'same'));
    await core.idle();
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(sip.sent).toHaveLength(1);
  });

  it('does not spend the sender rate budget on retransmissions', async () => {
    const target: Target = { kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } };
    // Capacity 3: the first message resent five times, then two more, all within budget.
    for (let i = 0; i < 6; i++) await core.accept('xmpp', msg(target, 'resent'));
    await core.accept('xmpp', msg(target, 'two'));
    await core.accept('xmpp', msg(target, 'three'));
    await expect(core.accept('xmpp', msg(target, 'four'))).rejects.toMatchObject({
      code: 'rate-limited',
    });
  });

  it('refuses plaintext unless relay is on', async () => {
    const plain: InboundMessage = {
      ...msg({ kind: 'address', address: { network: 'sip', id: 'a@s.test' } }),
      payload: { kind: 'plaintext', text: 'hi' },
    };
    await expect(core.accept('xmpp', plain)).rejects.toMatchObject({
      code: 'plaintext-relay-disabled',
    });
    await core.stop();
    build(true);
    await core.accept('xmpp', plain);
    await core.idle();
    expect(sip.sent[0]!.payload).toEqual({ kind: 'plaintext', text: 'hi' });
  });

  it('rate-limits each remote user separately', async () => {
    const target: Target = { kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } };
    for (let i = 0; i < 3; i++) await core.accept('xmpp', msg(target, `m${i}`));
    await expect(core.accept('xmpp', msg(target, 'm3'))).rejects.toMatchObject({
      code: 'rate-limited',
    });
    await core.accept('xmpp', msg(target, 'm4', 'other@xmpp.test'));
    now += 60_000;
    await core.accept('xmpp', msg(target, 'm5'));
  });

  it('gives up after repeated failures on a connected network and tells the sender', async () => {
    sip.deliver = () => Promise.reject(new BridgeError('network-unavailable', 'choked'));
    await core.accept(
      'xmpp',
      msg({ kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } }),
    );
    for (let i = 0; i <= MAX_DELIVERY_ATTEMPTS; i++) {
      now += 60_000; // past any backoff
      core.flush();
      await core.idle();
    }
    expect(await store.pendingCount()).toBe(0);
    expect(xmpp.notices).toHaveLength(1);
  });

  it('tells the sender when the far side refuses a message for good', async () => {
    sip.reject = true;
    await core.accept(
      'xmpp',
      msg({ kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } }),
    );
    await core.idle();
    expect(xmpp.notices).toHaveLength(1);
    expect(await store.pendingCount()).toBe(0);
  });

  const toAlice: Target = { kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } };
  const toBob: Target = { kind: 'address', address: { network: 'sip', id: 'bob@sip.test' } };

  it('bounds a delivery that never settles and keeps delivering to other destinations', async () => {
    await core.stop();
    build(false, 200);
    const hung: OutboundMessage[] = [];
    const deliver = sip.deliver.bind(sip);
    sip.deliver = (m) => {
      if (m.to.id === 'alice@sip.test') {
        hung.push(m);
        return new Promise<void>(() => undefined); // a transaction disposed without an answer
      }
      return deliver(m);
    };
    await core.accept('xmpp', msg(toAlice, 'a1'));
    await core.accept('xmpp', msg(toBob, 'b1'));
    await core.accept('xmpp', msg(toBob, 'b2'));
    await core.idle();
    // The hung attempt settled (timed out) and the message is kept for a later retry.
    expect(hung).toHaveLength(1);
    expect(sip.sent.map((m) => m.to.id)).toEqual(['bob@sip.test', 'bob@sip.test']);
    expect(await store.pendingCount()).toBe(1);
    sip.deliver = deliver;
    now += 60_000;
    core.flush();
    await core.idle();
    expect(sip.sent.map((m) => m.to.id)).toContain('alice@sip.test');
    expect(await store.pendingCount()).toBe(0);
  });

  it('keeps order per destination and backs off after a failure', async () => {
    let fail = true;
    const deliver = sip.deliver.bind(sip);
    sip.deliver = (m) =>
      fail ? Promise.reject(new BridgeError('network-unavailable', 'busy')) : deliver(m);
    await core.accept('xmpp', msg(toAlice, 'o1'));
    await core.accept('xmpp', msg(toAlice, 'o2'));
    await core.idle();
    fail = false;
    core.flush(); // still within the backoff: nothing is tried
    await core.idle();
    expect(sip.sent).toHaveLength(0);
    now += 60_000;
    core.flush();
    await core.idle();
    expect(sip.sent.map((m) => m.id)).toHaveLength(2);
    const rows = await store.pending(10);
    expect(rows).toHaveLength(0);
    expect(xmpp.receipts).toEqual(['o1', 'o2']);
  });

  it('stops promptly while a delivery hangs, keeping the message pending', async () => {
    let calls = 0;
    sip.deliver = () => {
      calls += 1;
      return new Promise<void>(() => undefined);
    };
    await core.accept('xmpp', msg(toAlice, 'h1'));
    while (calls === 0) await new Promise((r) => setImmediate(r));
    await core.stop(); // would wait for the 30 s timeout (or forever) without the abort
    expect(await store.pendingCount()).toBe(1);
  });

  it('reports a queue stuck when its oldest message waited too long without progress', async () => {
    sip.deliver = () => Promise.reject(new BridgeError('network-unavailable', 'busy'));
    now = 1_000_000;
    await core.accept('xmpp', msg(toAlice, 's1'));
    await core.idle();
    expect(core.queueHealth().sip).toEqual({ pending: 1, oldestPendingMs: 0, stuck: false });
    now += 120_000;
    expect(core.queueHealth().sip).toEqual({ pending: 1, oldestPendingMs: 120_000, stuck: true });
    expect(core.queueHealth().xmpp?.stuck).toBe(false);
  });

  it('keeps several messages in flight per destination, started in order, matched by id', async () => {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    sip.deliver = (m) => {
      started.push(m.id);
      return new Promise<void>((resolve) => finish.set(m.id, resolve));
    };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await core.accept('xmpp', msg(toAlice, `p${i}`, `s${i}@xmpp.test`))).id);
    for (let turn = 0; turn < 1000 && started.length < 5; turn++) {
      await new Promise((r) => setImmediate(r));
    }
    // All five went out before any was acknowledged, in acceptance order.
    expect(started).toEqual(ids);
    // Acknowledged out of order: each is settled by its own id.
    for (const id of [...ids].reverse()) finish.get(id)!();
    await core.idle();
    expect(await store.pendingCount()).toBe(0);
    expect(xmpp.receipts).toEqual(['p4', 'p3', 'p2', 'p1', 'p0']);
  });

  it('sends one Matrix message at a time per destination (the homeserver may reorder)', async () => {
    let inFlight = 0;
    let most = 0;
    matrix.deliver = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight -= 1;
    };
    const toCarol: Target = {
      kind: 'address',
      address: { network: 'matrix', id: '@carol:hs.test' },
    };
    for (let i = 0; i < 4; i++)
      await core.accept('xmpp', msg(toCarol, `mx${i}`, `s${i}@xmpp.test`));
    await core.idle();
    expect(most).toBe(1);
    expect(await store.pendingCount()).toBe(0);
  });

  it('dead-letters a message bounced after delivery and tells the sender', async () => {
    sip.deliver = () => Promise.resolve('native-1');
    const { id } = await core.accept('xmpp', msg(toAlice, 'd1'));
    await core.idle();
    const entry = await store.findDelivered('sip', 'native-1');
    expect(entry?.id).toBe(id);
    await core.bounced(entry!);
    expect(await store.stateOf(id)).toBe('failed');
    expect(xmpp.notices).toEqual(['your message could not be delivered: the recipient refused it']);
  });

  it('keeps a notice the sender network could not take, and sends it after a restart', async () => {
    sip.reject = true;
    xmpp.notify = () => Promise.reject(new BridgeError('network-unavailable', 'stream lost'));
    const { id } = await core.accept('xmpp', msg(toAlice, 'n-durable'));
    await core.idle();
    expect(await store.stateOf(id)).toBe('notify:refused');
    expect(await store.pendingCount()).toBe(0);
    // The process ends; a new one over the same store tells the sender on its first pass.
    await core.stop();
    xmpp = new RecordingNetwork('xmpp');
    build();
    core.flush();
    await core.idle();
    expect(xmpp.notices).toEqual(['your message could not be delivered: the recipient refused it']);
    expect(await store.stateOf(id)).toBe('failed');
    // Told once: later passes find nothing owed.
    now += 60_000;
    core.flush();
    await core.idle();
    expect(xmpp.notices).toHaveLength(1);
  });

  it('waits with a notice while the sender network is down, and gives up one refused for good', async () => {
    sip.reject = true;
    xmpp.up = false;
    const { id } = await core.accept('xmpp', msg(toAlice, 'n-down'));
    await core.idle();
    expect(await store.stateOf(id)).toBe('notify:refused');
    xmpp.up = true;
    now += 60_000;
    core.flush();
    await core.idle();
    expect(xmpp.notices).toHaveLength(1);
    expect(await store.stateOf(id)).toBe('failed');

    xmpp.notify = () => Promise.reject(new BridgeError('delivery-rejected', 'no such user'));
    const second = await core.accept('xmpp', msg(toAlice, 'n-refused'));
    await core.idle();
    expect(await store.stateOf(second.id)).toBe('failed');
  });
});

describe('timeOrderedId', () => {
  it('gives UUIDv7 ids that sort by time and differ within one millisecond', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map(timeOrderedId);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]!.startsWith('018bcfe5-6800-7')).toBe(true); // 1_700_000_000_000 ms in hex
    expect(timeOrderedId(5)).not.toBe(timeOrderedId(5));
  });
});
