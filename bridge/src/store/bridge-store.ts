import type { Kysely } from 'kysely';
import type { DialectName } from '@switchboard/db';
import { migrateToLatest } from '@switchboard/db';
import type { Address, Network, Payload } from '../model.js';
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
const NOTICE_REASONS: readonly NoticeReason[] = ['refused', 'gave-up'];

/** A Matrix portal room: one Matrix user talking with one remote party. */
export interface PortalRecord {
  readonly roomId: string;
  readonly matrixUser: string;
  readonly remoteKey: string;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * All bridge state in the shared database layer (either dialect): the outbox of acknowledged
 * messages, portal rooms, registered ghosts, network registrations, presence opt-outs and the
 * Matrix transactions already processed.
 */
export class BridgeStore {
  readonly #db: Kysely<BridgeTables>;
  readonly #now: () => number;

  private constructor(db: Kysely<BridgeTables>, now: () => number) {
    this.#db = db;
    this.#now = now;
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
   * message was recorded before, so retransmissions are delivered once.
   */
  async enqueue(entry: OutboxEntry): Promise<boolean> {
    const now = this.#now();
    const result = await this.#db
      .insertInto('bridge_outbox')
      .values({
        id: entry.id,
        source_network: entry.sourceNetwork,
        source_native_id: entry.sourceNativeId,
        from_network: entry.from.network,
        from_id: entry.from.id,
        target_key: entry.targetKey,
        candidates: JSON.stringify(entry.candidates),
        payload_kind: entry.payload.kind,
        payload:
          entry.payload.kind === 'envelope' ? entry.payload.bytes : utf8.encode(entry.payload.text),
        wants_receipt: entry.wantsReceipt ? 1 : 0,
        state: 'pending',
        attempts: 0,
        delivered_network: null,
        delivered_native_id: null,
        created_at: entry.createdAt,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['source_network', 'source_native_id']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Messages still to deliver, oldest first; `after` continues from an earlier page. */
  async pending(
    limit = 100,
    after?: { readonly createdAt: number; readonly id: string },
  ): Promise<OutboxEntry[]> {
    let query = this.#db.selectFrom('bridge_outbox').selectAll().where('state', '=', 'pending');
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

  /** Number of messages waiting for delivery. */
  async pendingCount(): Promise<number> {
    const row = await this.#db
      .selectFrom('bridge_outbox')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Marks a message delivered on `network`, optionally under that network's id for it. */
  async markDelivered(id: string, network: Network, nativeId?: string): Promise<void> {
    await this.#db
      .updateTable('bridge_outbox')
      .set({
        state: 'delivered',
        delivered_network: network,
        delivered_native_id: nativeId ?? null,
        updated_at: this.#now(),
      })
      .where('id', '=', id)
      .execute();
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
    await this.#db
      .updateTable('bridge_outbox')
      .set({ state: notice ? `notify:${notice}` : 'failed', updated_at: this.#now() })
      .where('id', '=', id)
      .execute();
  }

  /** Failed messages whose sender is still to be told, oldest first. */
  async noticesDue(limit = 50): Promise<{ entry: OutboxEntry; reason: NoticeReason }[]> {
    const rows = await this.#db
      .selectFrom('bridge_outbox')
      .selectAll()
      .where(
        'state',
        'in',
        NOTICE_REASONS.map((r) => `notify:${r}`),
      )
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
      .where('state', 'like', 'notify:%')
      .execute();
  }

  /** Counts one more delivery attempt. */
  async recordAttempt(id: string): Promise<void> {
    await this.#db
      .updateTable('bridge_outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), updated_at: this.#now() }))
      .where('id', '=', id)
      .execute();
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
    const row = await this.#db
      .selectFrom('bridge_portals')
      .selectAll()
      .where('room_id', '=', roomId)
      .executeTakeFirst();
    return row && { roomId: row.room_id, matrixUser: row.matrix_user, remoteKey: row.remote_key };
  }

  /** Forgets a portal (its Matrix user left it, or its ghost was removed). */
  async deletePortal(roomId: string): Promise<void> {
    await this.#db.deleteFrom('bridge_portals').where('room_id', '=', roomId).execute();
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

  /** Which of these Matrix event ids were processed before. */
  async seenMatrixEvents(eventIds: readonly string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows = await this.#db
      .selectFrom('bridge_matrix_events')
      .select('event_id')
      .where('event_id', 'in', [...eventIds])
      .execute();
    return new Set(rows.map((r) => r.event_id));
  }

  /** Records a Matrix event as processed. */
  async saveMatrixEvent(eventId: string): Promise<void> {
    await this.#db
      .insertInto('bridge_matrix_events')
      .values({ event_id: eventId, created_at: this.#now() })
      .onConflict((oc) => oc.doNothing())
      .execute();
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
