import type { CreateTableBuilder, Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DialectName, PortableMigration } from '@switchboard/db';
import { columnTypes } from '@switchboard/db';

function serialId<T extends string>(
  table: CreateTableBuilder<T, never>,
  column: string,
  dialect: DialectName,
): CreateTableBuilder<T, never> {
  return dialect === 'sqlite'
    ? table.addColumn(column, 'integer', (c) => c.primaryKey().autoIncrement())
    : table.addColumn(column, 'bigserial', (c) => c.primaryKey());
}

/** Verification sessions (one per number being verified). */
async function createVerificationTables(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('verification_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('number', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text')
    .addColumn('code_expires_at', t.timestamp)
    .addColumn('last_sent_at', t.timestamp)
    .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('verified_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('verification_sessions_expires')
    .on('verification_sessions')
    .column('expires_at')
    .execute();
}

/** Accounts and their one-time prekeys. */
async function createAccountTables(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('number', 'text', (c) => c.notNull().unique())
    .addColumn('registration_id', 'integer', (c) => c.notNull())
    .addColumn('identity_key', t.bytes, (c) => c.notNull())
    .addColumn('device_key', t.bytes, (c) => c.notNull())
    .addColumn('signed_prekey_id', 'integer', (c) => c.notNull())
    .addColumn('signed_prekey', t.bytes, (c) => c.notNull())
    .addColumn('signed_prekey_signature', t.bytes, (c) => c.notNull())
    .addColumn('kyber_last_resort_id', 'integer', (c) => c.notNull())
    .addColumn('kyber_last_resort', t.bytes, (c) => c.notNull())
    .addColumn('kyber_last_resort_signature', t.bytes, (c) => c.notNull())
    .addColumn('discoverable', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('contacts', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('pending_move', 'text')
    .addColumn('verified_at', t.timestamp, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();

  await serialId(db.schema.createTable('one_time_prekeys'), 'id', dialect)
    .addColumn('account_id', 'text', (c) =>
      c.notNull().references('accounts.id').onDelete('cascade'),
    )
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('key_id', 'integer', (c) => c.notNull())
    .addColumn('public_key', t.bytes, (c) => c.notNull())
    .addColumn('signature', t.bytes)
    .addUniqueConstraint('one_time_prekeys_key', ['account_id', 'kind', 'key_id'])
    .execute();
}

/** The double-entry ledger: transactions and their entries. */
async function createLedgerTables(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('ledger_transactions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('amount_minor', t.bigint, (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('balance_after', t.bigint, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('ledger_transactions_idempotency', [
      'account_id',
      'kind',
      'idempotency_key',
    ])
    .execute();
  await serialId(db.schema.createTable('ledger_entries'), 'id', dialect)
    .addColumn('transaction_id', 'text', (c) => c.notNull().references('ledger_transactions.id'))
    .addColumn('ledger_account', 'text', (c) => c.notNull())
    .addColumn('amount_minor', t.bigint, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('ledger_entries_account')
    .on('ledger_entries')
    .columns(['ledger_account', 'id'])
    .execute();
}

/** Operator API keys and port-outs. */
async function createOperatorTables(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('revoked_at', t.timestamp)
    .execute();

  await db.schema
    .createTable('port_outs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('number', 'text', (c) => c.notNull())
    .addColumn('to_provider', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('expires_at', t.timestamp, (c) => c.notNull())
    .addColumn('completed_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
}

/** Mailboxes and the replay-nonce cache. */
async function createMailboxTables(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const t = columnTypes(dialect);
  await serialId(db.schema.createTable('mailbox_messages'), 'seq', dialect)
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('mailbox', 'text', (c) => c.notNull())
    .addColumn('ciphertext', t.bytes, (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('received_at', t.timestamp, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('mailbox_messages_mailbox')
    .on('mailbox_messages')
    .columns(['mailbox', 'seq'])
    .execute();

  await db.schema
    .createTable('replay_nonces')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', t.timestamp, (c) => c.notNull())
    .execute();
}

const initial: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    await createVerificationTables(db, dialect);
    await createAccountTables(db, dialect);
    await createLedgerTables(db, dialect);
    await createOperatorTables(db, dialect);
    await createMailboxTables(db, dialect);
  },
};

/** A payment reference credits at most once per provider. */
const paymentReferences: PortableMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('ledger_transactions')
      .addColumn('payment_reference', 'text')
      .execute();
    await db.schema
      .createIndex('ledger_transactions_payment_reference')
      .on('ledger_transactions')
      .column('payment_reference')
      .unique()
      .execute();
  },
};

/** Mailboxes whose owner has fetched at least once (others keep messages only briefly). */
const mailboxOwners: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('mailbox_owners')
      .addColumn('mailbox', 'text', (c) => c.primaryKey())
      .addColumn('first_fetched_at', t.timestamp, (c) => c.notNull())
      .execute();
  },
};

/** Directory withdrawals owed after a local change committed (retried until they succeed). */
const pendingWithdrawals: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('directory_pending_withdrawals')
      .addColumn('number', 'text', (c) => c.primaryKey())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute();
  },
};

/**
 * Who stored what in mailboxes (each message's sender prefix, for per-sender shares and budgets)
 * and from which network the owner last fetched (a fetch from the sender's own network does not
 * claim the mailbox for that sender).
 */
const mailboxSenders: PortableMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('mailbox_messages')
      .addColumn('sender_prefix', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .createIndex('mailbox_messages_sender')
      .on('mailbox_messages')
      .columns(['sender_prefix', 'mailbox'])
      .execute();
    await db.schema.alterTable('mailbox_owners').addColumn('receiver_prefix', 'text').execute();
  },
};

/**
 * Bundle fetches by asker and target: who may see a non-discoverable account, and when an
 * asker last got one-time prekeys of a target. Removed with the target's account.
 */
const prekeyContacts: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('prekey_contacts')
      .addColumn('target_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('asker', 'text', (c) => c.notNull())
      .addColumn('first_at', t.timestamp, (c) => c.notNull())
      .addColumn('one_time_at', t.timestamp)
      .addPrimaryKeyConstraint('prekey_contacts_pair', ['target_id', 'asker'])
      .execute();
  },
};

/** Registration locks (Signal-style): a salted scrypt hash of the PIN, activity, PIN guesses. */
const registrationLocks: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('registration_locks')
      .addColumn('account_id', 'text', (c) => c.primaryKey())
      .addColumn('pin_salt', t.bytes, (c) => c.notNull())
      .addColumn('pin_hash', t.bytes, (c) => c.notNull())
      .addColumn('last_active_at', t.timestamp, (c) => c.notNull())
      .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('attempts_since', t.timestamp, (c) => c.notNull())
      .execute();
  },
};

/**
 * Hand-overs of a verified session from the web page to the device that makes the keys: only
 * a hash of the random token is kept; single use (`redeemed_at`), short-lived (`expires_at`).
 */
const registrationHandovers: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('registration_handovers')
      .addColumn('session_id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('number', 'text', (c) => c.notNull())
      .addColumn('publishes', 'integer', (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('expires_at', t.timestamp, (c) => c.notNull())
      .addColumn('redeemed_at', t.timestamp)
      .execute();
  },
};

/**
 * SQLite: the two tables every bundle fetch writes, replay nonces and prekey contacts, become
 * `WITHOUT ROWID` tables, each row in its primary key's B-tree only. A row of a table with a
 * text key was written twice, into the rowid table and into the key's index: two pages per new
 * row, each page a 4 KiB WAL frame on commit and a page copied again by the checkpoint. Now one
 * (docs/decisions.md: the frames and checkpoint copies per fetch, before and after). Contents, keys, the foreign key and its
 * cascade are unchanged. PostgreSQL: nothing to do (its tables are heaps with separate indexes
 * either way).
 */
const clusteredHotTables: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    if (dialect !== 'sqlite') return;
    const statements = [
      sql`CREATE TABLE replay_nonces_clustered (
        key text NOT NULL PRIMARY KEY, expires_at integer NOT NULL) WITHOUT ROWID`,
      sql`INSERT INTO replay_nonces_clustered (key, expires_at)
        SELECT key, expires_at FROM replay_nonces`,
      sql`DROP TABLE replay_nonces`,
      sql`ALTER TABLE replay_nonces_clustered RENAME TO replay_nonces`,
      sql`CREATE TABLE prekey_contacts_clustered (
        target_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        asker text NOT NULL, first_at integer NOT NULL, one_time_at integer,
        CONSTRAINT prekey_contacts_pair PRIMARY KEY (target_id, asker)) WITHOUT ROWID`,
      sql`INSERT INTO prekey_contacts_clustered (target_id, asker, first_at, one_time_at)
        SELECT target_id, asker, first_at, one_time_at FROM prekey_contacts`,
      sql`DROP TABLE prekey_contacts`,
      sql`ALTER TABLE prekey_contacts_clustered RENAME TO prekey_contacts`,
    ];
    for (const statement of statements) await statement.execute(db);
  },
};

/**
 * SQLite: where each account's one-time prekeys are taken from. A take moves the cursor past
 * the key it hands out instead of deleting the key's row: one small row written (one page)
 * instead of two rows and their index entries (about 5 of a fetch's 9 WAL frames); the rows
 * below the cursor are deleted later, in bulk (`sweepTakenPreKeys`) or when the account uploads
 * keys. `*_next`: the lowest key id not taken yet; `*_taken`: the key id the latest take handed
 * out (null: it found none). No row: nothing taken. PostgreSQL keeps the table empty (its takes
 * delete rows with `SKIP LOCKED`, so that concurrent takes of one account never wait on a lock).
 */
const prekeyCursors: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    if (dialect === 'sqlite') {
      await sql`CREATE TABLE prekey_cursors (
        account_id text NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        ec_next integer NOT NULL DEFAULT 0, ec_taken integer,
        kyber_next integer NOT NULL DEFAULT 0, kyber_taken integer) WITHOUT ROWID`.execute(db);
      return;
    }
    await db.schema
      .createTable('prekey_cursors')
      .addColumn('account_id', 'text', (c) =>
        c.primaryKey().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('ec_next', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('ec_taken', 'bigint')
      .addColumn('kyber_next', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('kyber_taken', 'bigint')
      .execute();
  },
};

/**
 * Replay-nonce keys start with their expiry (13 digits of ms, zero-padded; `core/replay-cache.ts`):
 * new keys go to the end of the B-tree instead of a random page each, and the sweep deletes the
 * lowest keys. Existing rows get the prefix of their own expiry, so a live nonce stays refused.
 */
const nonceKeysByExpiry: PortableMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    if (dialect === 'sqlite') {
      await sql`UPDATE replay_nonces SET key = printf('%013d', expires_at) || key`.execute(db);
    } else {
      await sql`UPDATE replay_nonces SET key = lpad(expires_at::text, 13, '0') || key`.execute(db);
    }
  },
};

/** The provider API's migrations, applied in name order by `migrateToLatest`. */
export const PROVIDER_MIGRATIONS: Readonly<Record<string, PortableMigration>> = {
  '0001_initial': initial,
  '0002_payment_references': paymentReferences,
  '0003_mailbox_owners': mailboxOwners,
  '0004_directory_pending_withdrawals': pendingWithdrawals,
  '0005_mailbox_senders': mailboxSenders,
  '0006_prekey_contacts': prekeyContacts,
  '0007_registration_locks': registrationLocks,
  '0008_registration_handovers': registrationHandovers,
  '0009_clustered_hot_tables': clusteredHotTables,
  '0010_prekey_cursors': prekeyCursors,
  '0011_nonce_keys_by_expiry': nonceKeysByExpiry,
};
