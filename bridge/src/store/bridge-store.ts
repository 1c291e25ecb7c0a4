import { CompiledQuery, sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DialectName } from '@switchboard/db';
import { migrateToLatest } from '@switchboard/db';
import type { Address, Network, Payload } from '../model/model.js';
import { BRIDGE_MIGRATIONS } from './migrations.js';

interface OutboxTable {
  id: string;
  source_network: string;
  source_native_id: string;
  from_network: string;
  from_id: string;
  target_key: string;
  candidates: string;
  payload_kind: string;
  payload: Uint8Array;
  wants_receipt: number;
  state: string;
  attempts: number;
  delivered_network: string | null;
  delivered_native_id: string | null;
  created_at: number;
  updated_at: number;
}

/** The bridge's tables as Kysely sees them. */
export interface BridgeTables {
  bridge_outbox: OutboxTable;
  bridge_portals: { room_id: string; matrix_user: string; remote_key: string; created_at: number };
  bridge_ghosts: { user_id: string; created_at: number; display_name: string | null };
  bridge_registrations: {
    network: string;
    aor: string;
    state: string;
    expires_at: number | null;
    updated_at: number;
  };
  bridge_presence_opt_out: { user_key: string; created_at: number };
  bridge_matrix_events: { event_id: string; created_at: number };
}

/** A message the bridge acknowledged and must deliver. */
export interface OutboxEntry {
  readonly id: string;
  readonly sourceNetwork: Network;
  readonly sourceNativeId: string;
  readonly from: Address;
  /** Remote key of what the sender addressed (a ghost, a phone number). */
  readonly targetKey: string;
  /** Where to deliver, in preference order (NAPTR order for phone numbers). */
  readonly candidates: readonly Address[];
  readonly payload: Payload;
  readonly wantsReceipt: boolean;
  readonly createdAt: number;
  /** Delivery attempts that reached a connected network and failed. */
  readonly attempts?: number;
}

/** Why a failed message's sender is told: refused by the far side, or too many attempts. */
export type NoticeReason = 'refused' | 'gave-up';

/**
 * The states the outbox's partial indexes cover, as literals in the SQL: SQLite uses a partial
 * index only for a query whose WHERE has the index's own term, and a bound parameter is not.
 */
const PENDING = sql.lit('pending') as unknown as string;
const NOTIFY_ANY = sql.lit('notify:%') as unknown as string;

/** A Matrix portal room: one Matrix user talking with one remote party. */
export interface PortalRecord {
  readonly roomId: string;
  readonly matrixUser: string;
  readonly remoteKey: string;
}

/** List sizes the processed-event-id lookup is compiled for; longer lists go in parts. */
const SEEN_SIZES = [1, 8, 32, 128] as const;

const utf8 = new TextEncoder();
/** Portals kept in memory by room id, at most. */
const PORTAL_CACHE_SIZE = 10_000;
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * All bridge state in the shared database layer (either dialect): the outbox of acknowledged
 * messages, portal rooms, registered ghosts, network registrations, presence opt-outs and the
 * Matrix transactions already processed.
 */
export class BridgeStore {
  readonly #db: Kysely<BridgeTables>;
  readonly #now: () => number;
  readonly #writes: GroupCommit;
  readonly #sql: OutboxSql;
  /**
   * Portals by room id, as read or written through this store (the one bridge process owns
   * its tables): every Matrix event looks its room up. Bounded; cleared when full.
   */
  readonly #portalsByRoom = new Map<string, PortalRecord>();
  /** The event id lookup's SQL per list size. */
  readonly #seenSqlBySize = new Map<number, string>();

  private constructor(db: Kysely<BridgeTables>, now: () => number) {
    this.#db = db;
    this.#now = now;
    this.#writes = new GroupCommit(db);
    this.#sql = outboxSql(db);
  }

  /** Migrates the schema to the latest version and returns a store over it. */
  static async open(
    db: Kysely<unknown>,
    dialect: DialectName,
    now: () => number = Date.now,
  ): Promise<BridgeStore> {
    await migrateToLatest(db, dialect, 'bridge', BRIDGE_MIGRATIONS);
    return new BridgeStore(db as Kysely<BridgeTables>, now);
  }

  /**
   * Records an acknowledged message. Returns false (and stores nothing) when the same source
   * message was recorded before, so retransmissions are delivered once. A Matrix message's
   * source id is its event id: it is recorded as processed (see {@link seenMatrixEvents}) in
   * the same transaction, so a homeserver transaction costs one commit, not two.
   */
  async enqueue(entry: OutboxEntry): Promise<boolean> {
    const now = this.#now();
    const eventId =
      entry.sourceNetwork === 'matrix' && entry.sourceNativeId !== entry.id
        ? [CompiledQuery.raw(this.#sql.matrixEvent, [entry.sourceNativeId, now])]
        : [];
    const changed = await this.#writes.run(
      CompiledQuery.raw(this.#sql.enqueue, [
        entry.id,
        entry.sourceNetwork,
        entry.sourceNativeId,
        entry.from.network,
        entry.from.id,
        entry.targetKey,
        JSON.stringify(entry.candidates),
        entry.payload.kind,
        entry.payload.kind === 'envelope' ? entry.payload.bytes : utf8.encode(entry.payload.text),
        entry.wantsReceipt ? 1 : 0,
        entry.createdAt,
        now,
      ]),
      ...eventId,
    );
    return changed > 0;
  }

  /** Messages still to deliver, oldest first; `after` continues from an earlier page. */
  async pending(
    limit = 100,
    after?: { readonly createdAt: number; readonly id: string },
  ): Promise<OutboxEntry[]> {
    let query = this.#db.selectFrom('bridge_outbox').selectAll().where('state', '=', PENDING);
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '>', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)]),
        ]),
      );
    }
    const rows = await query.orderBy('created_at').orderBy('id').limit(limit).execute();
    return rows.map(toEntry);
  }

  /** Messages still to deliver to one destination (remote key) after `after`, oldest first. */
  async pendingFor(
    targetKey: string,
    limit: number,
    after: { readonly createdAt: number; readonly id: string },
  ): Promise<OutboxEntry[]> {
    const rows = await this.#db
      .selectFrom('bridge_outbox')
      .selectAll()
      .where('state', '=', PENDING)
      .where('target_key', '=', targetKey)
      .where((eb) =>
        eb.or([
          eb('created_at', '>', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)]),
        ]),
      )
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toEntry);
  }

  /** Number of messages waiting for delivery. */
  async pendingCount(): Promise<number> {
    const row = await this.#db
      .selectFrom('bridge_outbox')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('state', '=', PENDING)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Marks a message delivered on `network`, optionally under that network's id for it. */
  async markDelivered(id: string, network: Network, nativeId?: string): Promise<void> {
    await this.#writes.run(
      CompiledQuery.raw(this.#sql.delivered, [network, nativeId ?? null, this.#now(), id]),
    );
  }

  /** A delivered message by the id the destination network gave it. */
  async findDelivered(network: Network, nativeId: string): Promise<OutboxEntry | undefined> {
    const row = await this.#db
      .selectFrom('bridge_outbox')
      .selectAll()
      .where('delivered_network', '=', network)
      .where('delivered_native_id', '=', nativeId)
      .executeTakeFirst();
    return row && toEntry(row);
  }

  /**
   * Marks a message permanently undeliverable. With a `notice` reason its sender is still to
   * be told (state `notify:<reason>`, kept across restarts until {@link markNotified}).
   */
  async markFailed(id: string, notice?: NoticeReason): Promise<void> {
    const state = notice ? `notify:${notice}` : 'failed';
    await this.#writes.run(CompiledQuery.raw(this.#sql.failed, [state, this.#now(), id]));
  }

  /** Failed messages whose sender is still to be told, oldest first. */
  async noticesDue(limit = 50): Promise<{ entry: OutboxEntry; reason: NoticeReason }[]> {
    const rows = await this.#db
      .selectFrom('bridge_outbox')
      .selectAll()
      .where('state', 'like', NOTIFY_ANY)
      .orderBy('updated_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      entry: toEntry(row),
      reason: row.state.slice('notify:'.length) as NoticeReason,
    }));
  }

  /** The sender of a failed message was told (or will never be): it is simply failed now. */
  async markNotified(id: string): Promise<void> {
    await this.#db
      .updateTable('bridge_outbox')
      .set({ state: 'failed', updated_at: this.#now() })
      .where('id', '=', id)
      .where('state', 'like', NOTIFY_ANY)
      .execute();
  }

  /** Counts one more delivery attempt. */
  async recordAttempt(id: string): Promise<void> {
    await this.#writes.run(CompiledQuery.raw(this.#sql.attempt, [this.#now(), id]));
  }

  /** The state of one message (`pending`, `delivered`, `failed`), or undefined. */
  async stateOf(id: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('bridge_outbox')
      .select('state')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.state;
  }

  /** Forgets delivered or failed messages older than `olderThan` (epoch ms). */
  async prune(olderThan: number): Promise<void> {
    await this.#db
      .deleteFrom('bridge_outbox')
      .where('state', 'in', ['delivered', 'failed'])
      .where('updated_at', '<', olderThan)
      .execute();
  }

  /** Records a portal; returns the existing one if the pair already has a room. */
  async savePortal(portal: PortalRecord): Promise<PortalRecord> {
    this.#portalsByRoom.delete(portal.roomId);
    await this.#db
      .insertInto('bridge_portals')
      .values({
        room_id: portal.roomId,
        matrix_user: portal.matrixUser,
        remote_key: portal.remoteKey,
        created_at: this.#now(),
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
    return (await this.portalFor(portal.matrixUser, portal.remoteKey)) ?? portal;
  }

  /** The portal room for a Matrix user and a remote party, if any. */
  async portalFor(matrixUser: string, remoteKey: string): Promise<PortalRecord | undefined> {
    const row = await this.#db
      .selectFrom('bridge_portals')
      .selectAll()
      .where('matrix_user', '=', matrixUser)
      .where('remote_key', '=', remoteKey)
      .executeTakeFirst();
    return row && { roomId: row.room_id, matrixUser: row.matrix_user, remoteKey: row.remote_key };
  }

  /** Every portal of one Matrix user. */
  async portalsOf(matrixUser: string): Promise<PortalRecord[]> {
    const rows = await this.#db
      .selectFrom('bridge_portals')
      .selectAll()
      .where('matrix_user', '=', matrixUser)
      .execute();
    return rows.map((r) => ({
      roomId: r.room_id,
      matrixUser: r.matrix_user,
      remoteKey: r.remote_key,
    }));
  }

  /** The portal a room id is mapped to, if any. */
  async portalByRoom(roomId: string): Promise<PortalRecord | undefined> {
    const cached = this.#portalsByRoom.get(roomId);
    if (cached) return cached;
    const row = await this.#db
      .selectFrom('bridge_portals')
      .selectAll()
      .where('room_id', '=', roomId)
      .executeTakeFirst();
    if (!row) return undefined;
    const portal = { roomId: row.room_id, matrixUser: row.matrix_user, remoteKey: row.remote_key };
    if (this.#portalsByRoom.size >= PORTAL_CACHE_SIZE) this.#portalsByRoom.clear();
    this.#portalsByRoom.set(roomId, portal);
    return portal;
  }

  /** Forgets a portal (its Matrix user left it, or its ghost was removed). */
  async deletePortal(roomId: string): Promise<void> {
    this.#portalsByRoom.delete(roomId);
    await this.#db.deleteFrom('bridge_portals').where('room_id', '=', roomId).execute();
    this.#portalsByRoom.delete(roomId); // a lookup may have raced the delete
  }

  /** A registered ghost and the display name last set for it (null: none yet). */
  async ghost(userId: string): Promise<{ readonly displayName: string | null } | undefined> {
    const row = await this.#db
      .selectFrom('bridge_ghosts')
      .select('display_name')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row && { displayName: row.display_name };
  }

  /** Records the display name set for a ghost. */
  async setGhostDisplayName(userId: string, displayName: string): Promise<void> {
    await this.#db
      .updateTable('bridge_ghosts')
      .set({ display_name: displayName })
      .where('user_id', '=', userId)
      .execute();
  }

  /** Remembers that a ghost is registered on the homeserver. */
  async saveGhost(userId: string): Promise<void> {
    await this.#db
      .insertInto('bridge_ghosts')
      .values({ user_id: userId, created_at: this.#now(), display_name: null })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Whether a ghost was registered before. */
  async hasGhost(userId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('bridge_ghosts')
      .select('user_id')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Records the registration state of the bridge on a network (e.g. SIP REGISTER). */
  async saveRegistration(
    network: Network,
    aor: string,
    state: string,
    expiresAt: number | null,
  ): Promise<void> {
    const now = this.#now();
    await this.#db
      .insertInto('bridge_registrations')
      .values({ network, aor, state, expires_at: expiresAt, updated_at: now })
      .onConflict((oc) =>
        oc
          .columns(['network', 'aor'])
          .doUpdateSet({ state, expires_at: expiresAt, updated_at: now }),
      )
      .execute();
  }

  /** The recorded registration state, if any. */
  async registration(
    network: Network,
    aor: string,
  ): Promise<{ readonly state: string; readonly expiresAt: number | null } | undefined> {
    const row = await this.#db
      .selectFrom('bridge_registrations')
      .select(['state', 'expires_at'])
      .where('network', '=', network)
      .where('aor', '=', aor)
      .executeTakeFirst();
    return (
      row && {
        state: row.state,
        expiresAt: row.expires_at === null ? null : Number(row.expires_at),
      }
    );
  }

  /** Sets whether a user's presence is bridged (`user_key` like `xmpp:alice@host`). */
  async setPresenceOptOut(userKey: string, optOut: boolean): Promise<void> {
    if (optOut) {
      await this.#db
        .insertInto('bridge_presence_opt_out')
        .values({ user_key: userKey, created_at: this.#now() })
        .onConflict((oc) => oc.doNothing())
        .execute();
    } else {
      await this.#db
        .deleteFrom('bridge_presence_opt_out')
        .where('user_key', '=', userKey)
        .execute();
    }
  }

  /** Whether a user opted out of presence bridging. */
  async presenceOptedOut(userKey: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('bridge_presence_opt_out')
      .select('user_key')
      .where('user_key', '=', userKey)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Which of these Matrix event ids were processed before (asked once per homeserver
   * transaction). The query is compiled once per list size in {@link SEEN_SIZES}, a list
   * padded to the next size by repeating its first id: building it anew per transaction cost
   * more than running it.
   */
  async seenMatrixEvents(eventIds: readonly string[]): Promise<Set<string>> {
    const seen = new Set<string>();
    const most = SEEN_SIZES[SEEN_SIZES.length - 1]!;
    for (let at = 0; at < eventIds.length; at += most) {
      const ids = eventIds.slice(at, at + most);
      const size = SEEN_SIZES.find((n) => n >= ids.length)!;
      while (ids.length < size) ids.push(ids[0]!);
      const { rows } = await this.#db.executeQuery<{ event_id: string }>(
        CompiledQuery.raw(this.#seenSql(size), ids),
      );
      for (const row of rows) seen.add(row.event_id);
    }
    return seen;
  }

  #seenSql(size: number): string {
    let text = this.#seenSqlBySize.get(size);
    if (!text) {
      text = this.#db
        .selectFrom('bridge_matrix_events')
        .select('event_id')
        .where('event_id', 'in', new Array<string>(size).fill('x'))
        .compile().sql;
      this.#seenSqlBySize.set(size, text);
    }
    return text;
  }

  /** Records a Matrix event as processed. */
  async saveMatrixEvent(eventId: string): Promise<void> {
    await this.#writes.run(CompiledQuery.raw(this.#sql.matrixEvent, [eventId, this.#now()]));
  }

  /**
   * Forgets processed Matrix event ids recorded before `olderThan` (epoch ms), and all but the
   * newest `keep` ids (and those recorded in the same millisecond), so it stays bounded.
   */
  async pruneMatrixEvents(olderThan: number, keep: number): Promise<void> {
    const cutoff = await this.#db
      .selectFrom('bridge_matrix_events')
      .select('created_at')
      .orderBy('created_at', 'desc')
      .offset(Math.max(0, keep - 1))
      .limit(1)
      .executeTakeFirst();
    const before = Math.max(olderThan, cutoff ? Number(cutoff.created_at) : 0);
    await this.#db.deleteFrom('bridge_matrix_events').where('created_at', '<', before).execute();
  }
}

/** The outbox writes on the hot path, as SQL text of the store's dialect (built once). */
interface OutboxSql {
  readonly enqueue: string;
  readonly delivered: string;
  readonly failed: string;
  readonly attempt: string;
  readonly matrixEvent: string;
}

/**
 * Compiles the hot-path writes once with the store's own dialect (placeholders `?` or `$n`);
 * each call then only binds its values. Parameters are in the order the comments give.
 */
function outboxSql(db: Kysely<BridgeTables>): OutboxSql {
  const x = 'x';
  return {
    // id, source_network, source_native_id, from_network, from_id, target_key, candidates,
    // payload_kind, payload, wants_receipt, created_at, updated_at
    enqueue: db
      .insertInto('bridge_outbox')
      .values({
        id: x,
        source_network: x,
        source_native_id: x,
        from_network: x,
        from_id: x,
        target_key: x,
        candidates: x,
        payload_kind: x,
        payload: new Uint8Array(0),
        wants_receipt: 0,
        state: sql.lit('pending') as unknown as string,
        attempts: sql.lit(0) as unknown as number,
        delivered_network: sql.lit(null) as unknown as null,
        delivered_native_id: sql.lit(null) as unknown as null,
        created_at: 0,
        updated_at: 0,
      })
      .onConflict((oc) => oc.columns(['source_network', 'source_native_id']).doNothing())
      .compile().sql,
    // delivered_network, delivered_native_id, updated_at, id
    delivered: db
      .updateTable('bridge_outbox')
      .set({
        state: sql.lit('delivered') as unknown as string,
        delivered_network: x,
        delivered_native_id: x,
        updated_at: 0,
      })
      .where('id', '=', x)
      .compile().sql,
    // state (`failed` or `notify:<reason>`), updated_at, id
    failed: db
      .updateTable('bridge_outbox')
      .set({ state: x, updated_at: 0 })
      .where('id', '=', x)
      .compile().sql,
    // updated_at, id
    attempt: db
      .updateTable('bridge_outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', sql.lit(1)), updated_at: 0 }))
      .where('id', '=', x)
      .compile().sql,
    // event_id, created_at
    matrixEvent: db
      .insertInto('bridge_matrix_events')
      .values({ event_id: x, created_at: 0 })
      .onConflict((oc) => oc.doNothing())
      .compile().sql,
  };
}

/** Writes gathered per batch at most. */
const GROUP_COMMIT_MAX = 512;

/**
 * Group commit: writes asked for while a batch is being committed (or within the same turn of
 * the event loop) are committed together in one transaction, each caller told its own row
 * count once that transaction is durable. One slow commit carries every write that queued up
 * behind it, instead of one transaction (and, on PostgreSQL, one round trip and one WAL flush)
 * per write. A failed batch fails each of its callers, who keep their message and retry.
 */
class GroupCommit {
  readonly #db: Kysely<BridgeTables>;
  #queue: Array<{
    queries: readonly CompiledQuery[];
    resolve(rows: number): void;
    reject(err: unknown): void;
  }> = [];
  #scheduled = false;
  #committing = false;

  constructor(db: Kysely<BridgeTables>) {
    this.#db = db;
  }

  /**
   * Runs `query` (and `more`, in the same transaction) in the next batch; resolves with the
   * row count of `query` once committed.
   */
  run(query: CompiledQuery, ...more: CompiledQuery[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ queries: [query, ...more], resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#committing || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#commit();
    });
  }

  async #commit(): Promise<void> {
    this.#committing = true;
    const batch = this.#queue.splice(0, GROUP_COMMIT_MAX);
    try {
      const rows = await this.#db.transaction().execute(async (trx) => {
        const out: number[] = [];
        for (const op of batch) {
          const [first, ...rest] = op.queries;
          const result = await trx.executeQuery(first!);
          for (const query of rest) await trx.executeQuery(query);
          out.push(Number(result.numAffectedRows ?? 0n));
        }
        return out;
      });
      batch.forEach((op, i) => op.resolve(rows[i] ?? 0));
    } catch (err) {
      for (const op of batch) op.reject(err);
    } finally {
      this.#committing = false;
      this.#schedule();
    }
  }
}

function toEntry(row: OutboxTable): OutboxEntry {
  const payload: Payload =
    row.payload_kind === 'envelope'
      ? { kind: 'envelope', bytes: new Uint8Array(row.payload) }
      : { kind: 'plaintext', text: fromUtf8.decode(row.payload) };
  return {
    id: row.id,
    sourceNetwork: row.source_network as Network,
    sourceNativeId: row.source_native_id,
    from: { network: row.from_network as Network, id: row.from_id },
    targetKey: row.target_key,
    candidates: JSON.parse(row.candidates) as Address[],
    payload,
    wantsReceipt: Number(row.wants_receipt) === 1,
    createdAt: Number(row.created_at),
    attempts: Number(row.attempts),
  };
}
