import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { PortableMigration } from '@switchboard/db';
import { columnTypes } from '@switchboard/db';

/** The bridge's schema history; applied with `migrateToLatest(db, dialect, 'bridge', ...)`. */
export const BRIDGE_MIGRATIONS: Readonly<Record<string, PortableMigration>> = {
  '0001_initial': {
    async up(db: Kysely<unknown>, dialect): Promise<void> {
      const t = columnTypes(dialect);
      // Every message the bridge acknowledged, until delivered (restarts lose nothing).
      await db.schema
        .createTable('bridge_outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source_network', 'text', (c) => c.notNull())
        .addColumn('source_native_id', 'text', (c) => c.notNull())
        .addColumn('from_network', 'text', (c) => c.notNull())
        .addColumn('from_id', 'text', (c) => c.notNull())
        .addColumn('target_key', 'text', (c) => c.notNull())
        .addColumn('candidates', 'text', (c) => c.notNull())
        .addColumn('payload_kind', 'text', (c) => c.notNull())
        .addColumn('payload', t.bytes, (c) => c.notNull())
        .addColumn('wants_receipt', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('delivered_network', 'text')
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .addColumn('updated_at', t.timestamp, (c) => c.notNull())
        .addUniqueConstraint('bridge_outbox_source_uq', ['source_network', 'source_native_id'])
        .execute();
      await db.schema
        .createIndex('bridge_outbox_state_idx')
        .on('bridge_outbox')
        .columns(['state', 'created_at'])
        .execute();
      await db.schema
        .createTable('bridge_portals')
        .addColumn('room_id', 'text', (c) => c.primaryKey())
        .addColumn('matrix_user', 'text', (c) => c.notNull())
        .addColumn('remote_key', 'text', (c) => c.notNull())
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .addUniqueConstraint('bridge_portals_pair_uq', ['matrix_user', 'remote_key'])
        .execute();
      await db.schema
        .createTable('bridge_ghosts')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('bridge_registrations')
        .addColumn('network', 'text', (c) => c.notNull())
        .addColumn('aor', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('expires_at', t.timestamp)
        .addColumn('updated_at', t.timestamp, (c) => c.notNull())
        .addPrimaryKeyConstraint('bridge_registrations_pk', ['network', 'aor'])
        .execute();
      await db.schema
        .createTable('bridge_presence_opt_out')
        .addColumn('user_key', 'text', (c) => c.primaryKey())
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('bridge_matrix_txns')
        .addColumn('txn_id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .execute();
      await sql`select 1`.execute(db);
    },
  },
  '0002_delivered_native_id': {
    async up(db: Kysely<unknown>): Promise<void> {
      // The destination network's id for a delivered message (Matrix event id, XMPP stanza
      // id), so read markers coming back can be matched to the message they acknowledge.
      await db.schema
        .alterTable('bridge_outbox')
        .addColumn('delivered_native_id', 'text')
        .execute();
      await db.schema
        .createIndex('bridge_outbox_delivered_idx')
        .on('bridge_outbox')
        .columns(['delivered_network', 'delivered_native_id'])
        .execute();
    },
  },
  '0003_matrix_event_ids': {
    async up(db: Kysely<unknown>, dialect): Promise<void> {
      const t = columnTypes(dialect);
      // Homeserver transactions are de-duplicated by event id: transaction ids are not unique
      // over time (Synapse on SQLite numbers them from 1 again after a restart), so the
      // processed transaction ids are forgotten.
      await db.schema
        .createTable('bridge_matrix_events')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('bridge_matrix_events_created_idx')
        .on('bridge_matrix_events')
        .column('created_at')
        .execute();
      await db.schema.dropTable('bridge_matrix_txns').execute();
    },
  },
  '0004_ghost_display_name': {
    async up(db: Kysely<unknown>): Promise<void> {
      // The display name last set for a ghost (null: not yet), so ghosts registered before
      // display names existed get one, and a changed naming is applied once.
      await db.schema.alterTable('bridge_ghosts').addColumn('display_name', 'text').execute();
    },
  },
  '0005_partial_outbox_indexes': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Index only the rows each lookup asks for: pending messages (the delivery scan), failed
      // ones whose sender is still to be told, and deliveries that got a native id (read
      // markers). A delivered message then leaves one index entry instead of rewriting two,
      // and a message without a native id never enters the delivered index.
      await db.schema.dropIndex('bridge_outbox_state_idx').execute();
      await db.schema.dropIndex('bridge_outbox_delivered_idx').execute();
      await db.schema
        .createIndex('bridge_outbox_pending_idx')
        .on('bridge_outbox')
        .columns(['created_at', 'id'])
        .where(sql.ref('state'), '=', sql.lit('pending'))
        .execute();
      await db.schema
        .createIndex('bridge_outbox_notice_idx')
        .on('bridge_outbox')
        .columns(['updated_at', 'id'])
        .where(sql.ref('state'), 'like', sql.lit('notify:%'))
        .execute();
      await db.schema
        .createIndex('bridge_outbox_native_idx')
        .on('bridge_outbox')
        .columns(['delivered_native_id', 'delivered_network'])
        .where(sql.ref('delivered_native_id'), 'is not', null)
        .execute();
    },
  },
};
