import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import type { TestDatabase } from '@switchboard/db/testing';
import { BridgeStore } from '../src/store/bridge-store.js';
import type { OutboxEntry } from '../src/store/bridge-store.js';

describe.each(ALL_DIALECTS)('BridgeStore on %s', (dialect) => {
  let database: TestDatabase<unknown>;
  let store: BridgeStore;
  let now = 1_000;

  beforeEach(async () => {
    database = await openTestDatabase<unknown>(dialect);
    store = await BridgeStore.open(database.db, database.dialect, () => now);
  });
  afterEach(async () => {
    await database.dispose();
  });

  const entry = (
    id: string,
    nativeId: string,
    bytes = new Uint8Array([0, 1, 255]),
  ): OutboxEntry => ({
    id,
    sourceNetwork: 'xmpp',
    sourceNativeId: nativeId,
    from: { network: 'xmpp', id: 'bob@xmpp.test' },
    targetKey: 'tel_15550100',
    candidates: [
      { network: 'sip', id: 'alice@sip.test' },
      { network: 'matrix', id: '@alice:hs.test' },
    ],
    payload: { kind: 'envelope', bytes },
    wantsReceipt: true,
    createdAt: now,
  });

  it('keeps acknowledged messages, bytes unchanged, in order, until delivered', async () => {
    const first = entry('a', 'n1');
    expect(await store.enqueue(first)).toBe(true);
    now += 1;
    expect(
      await store.enqueue({ ...entry('b', 'n2'), payload: { kind: 'plaintext', text: 'héllo' } }),
    ).toBe(true);
    const pending = await store.pending();
    expect(pending.map((e) => e.id)).toEqual(['a', 'b']);
    expect(pending[0]).toEqual({ ...first, attempts: 0 });
    expect(pending[1]!.payload).toEqual({ kind: 'plaintext', text: 'héllo' });
    await store.markDelivered('a', 'sip');
    await store.markFailed('b');
    expect(await store.pending()).toEqual([]);
    expect(await store.stateOf('a')).toBe('delivered');
    expect(await store.pendingCount()).toBe(0);
  });

  it('commits writes made together in one batch, each told its own outcome', async () => {
    // Asked for in the same turn: one group commit, with a retransmission inside it.
    const outcomes = await Promise.all([
      store.enqueue(entry('a', 'n1')),
      store.enqueue(entry('b', 'n1')),
      store.enqueue(entry('c', 'n2')),
      store.recordAttempt('a'),
      store.saveMatrixEvent('$e1'),
    ]);
    expect(outcomes.slice(0, 3)).toEqual([true, false, true]);
    expect((await store.pending()).map((e) => [e.id, e.attempts])).toEqual([
      ['a', 1],
      ['c', 0],
    ]);
    await Promise.all([store.markDelivered('a', 'sip', 'x1'), store.markFailed('c')]);
    expect(await store.stateOf('a')).toBe('delivered');
    expect(await store.stateOf('c')).toBe('failed');
    expect(await store.seenMatrixEvents(['$e1', '$e2'])).toEqual(new Set(['$e1']));
  });

  it("records a Matrix message's event id as processed with its outbox row, in one commit", async () => {
    const fromMatrix = (id: string, eventId: string): OutboxEntry => ({
      ...entry(id, eventId),
      sourceNetwork: 'matrix',
      from: { network: 'matrix', id: '@dave:hs.test' },
    });
    const outcomes = await Promise.all([
      store.enqueue(fromMatrix('a', '$m1')),
      store.enqueue(fromMatrix('b', '$m1')), // the same event pushed again
      store.enqueue(entry('c', '$x1')), // not from Matrix: its id is no event id
    ]);
    expect(outcomes).toEqual([true, false, true]);
    expect(await store.seenMatrixEvents(['$m1', '$x1'])).toEqual(new Set(['$m1']));
    // A batch that fails records neither the row nor the event id.
    await database.db.schema.dropTable('bridge_matrix_events').execute();
    // Checked by its message: in one jest worker, better-sqlite3 loaded by another test file
    // throws errors of another realm, which `rejects.toThrow()` does not count as thrown.
    const failed: unknown = await store.enqueue(fromMatrix('d', '$m2')).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String((failed as { message?: unknown } | undefined)?.message)).toMatch(
      /bridge_matrix_events/,
    );
    expect(await store.stateOf('d')).toBeUndefined();
  });

  it('finds delivered messages by the destination id and prunes old finished ones', async () => {
    await store.enqueue(entry('a', 'n1'));
    await store.enqueue(entry('b', 'n2'));
    await store.markDelivered('a', 'matrix', '$event');
    expect((await store.findDelivered('matrix', '$event'))?.id).toBe('a');
    expect(await store.findDelivered('xmpp', '$event')).toBeUndefined();
    now += 10_000;
    await store.prune(now - 5_000);
    expect(await store.stateOf('a')).toBeUndefined();
    expect(await store.stateOf('b')).toBe('pending');
  });

  it('stores a retransmitted source message once', async () => {
    expect(await store.enqueue(entry('a', 'same'))).toBe(true);
    expect(await store.enqueue(entry('b', 'same'))).toBe(false);
    expect((await store.pending()).map((e) => e.id)).toEqual(['a']);
  });

  it('maps portals both ways and keeps the first room for a pair', async () => {
    await store.savePortal({ roomId: '!a:hs', matrixUser: '@c:hs', remoteKey: 'xmpp_b=40x' });
    const again = await store.savePortal({
      roomId: '!b:hs',
      matrixUser: '@c:hs',
      remoteKey: 'xmpp_b=40x',
    });
    expect(again.roomId).toBe('!a:hs');
    expect(await store.portalByRoom('!a:hs')).toEqual({
      roomId: '!a:hs',
      matrixUser: '@c:hs',
      remoteKey: 'xmpp_b=40x',
    });
    expect(await store.portalFor('@c:hs', 'nope')).toBeUndefined();
  });

  it('records ghosts, registrations, presence opt-outs and transactions', async () => {
    expect(await store.hasGhost('@g:hs')).toBe(false);
    await store.saveGhost('@g:hs');
    await store.saveGhost('@g:hs');
    expect(await store.hasGhost('@g:hs')).toBe(true);
    await store.saveRegistration('sip', 'sip:b@s', 'Registered', 5000);
    await store.saveRegistration('sip', 'sip:b@s', 'Unregistered', null);
    expect(await store.registration('sip', 'sip:b@s')).toEqual({
      state: 'Unregistered',
      expiresAt: null,
    });
    await store.setPresenceOptOut('xmpp:b@x', true);
    expect(await store.presenceOptedOut('xmpp:b@x')).toBe(true);
    await store.setPresenceOptOut('xmpp:b@x', false);
    expect(await store.presenceOptedOut('xmpp:b@x')).toBe(false);
  });

  it('forgets abandoned portals and keeps the display name set for each ghost', async () => {
    await store.savePortal({ roomId: '!r', matrixUser: '@u:hs', remoteKey: 'xmpp_b' });
    await store.deletePortal('!r');
    expect(await store.portalFor('@u:hs', 'xmpp_b')).toBeUndefined();
    expect(await store.ghost('@g:hs')).toBeUndefined();
    await store.saveGhost('@g:hs');
    expect(await store.ghost('@g:hs')).toEqual({ displayName: null });
    await store.setGhostDisplayName('@g:hs', 'b@x (XMPP)');
    expect(await store.ghost('@g:hs')).toEqual({ displayName: 'b@x (XMPP)' });
  });

  it('remembers processed Matrix event ids, bounded by age and count', async () => {
    for (const [i, id] of ['$a', '$b', '$c', '$d'].entries()) {
      now = 1_000 + i * 10;
      await store.saveMatrixEvent(id);
      await store.saveMatrixEvent(id);
    }
    expect(await store.seenMatrixEvents(['$a', '$d', '$x'])).toEqual(new Set(['$a', '$d']));
    // Lists of every size, padded or split, answer the same.
    const many = Array.from({ length: 300 }, (_, i) => `$n${i}`);
    expect(await store.seenMatrixEvents([...many, '$a', ...many, '$d'])).toEqual(
      new Set(['$a', '$d']),
    );
    expect(await store.seenMatrixEvents([])).toEqual(new Set());
    await store.pruneMatrixEvents(1_005, 100); // by age: $a goes
    expect(await store.seenMatrixEvents(['$a', '$b'])).toEqual(new Set(['$b']));
    await store.pruneMatrixEvents(0, 2); // by count: the newest two stay
    expect(await store.seenMatrixEvents(['$b', '$c', '$d'])).toEqual(new Set(['$c', '$d']));
    now = 1_000;
  });

  it('survives reopening (migrations are idempotent)', async () => {
    await store.enqueue(entry('a', 'n1'));
    const reopened = await BridgeStore.open(database.db, database.dialect, () => now);
    expect((await reopened.pending()).map((e) => e.id)).toEqual(['a']);
  });
});
