import type { Generated } from 'kysely';

// Times are milliseconds since the epoch. PostgreSQL returns bigint columns as strings, so every
// reader converts with Number() (all values stay far below 2^53).

export interface VerificationSessionsTable {
  id: string;
  number: string;
  code_hash: string | null;
  code_expires_at: number | string | null;
  last_sent_at: number | string | null;
  sends: number;
  attempts: number;
  verified_at: number | string | null;
  created_at: number | string;
  expires_at: number | string;
}

export interface AccountsTable {
  id: string;
  number: string;
  registration_id: number;
  identity_key: Uint8Array;
  device_key: Uint8Array;
  signed_prekey_id: number;
  signed_prekey: Uint8Array;
  signed_prekey_signature: Uint8Array;
  kyber_last_resort_id: number;
  kyber_last_resort: Uint8Array;
  kyber_last_resort_signature: Uint8Array;
  discoverable: number;
  contacts: string;
  /** JSON of a pending directory move proof, used by the first publish. */
  pending_move: string | null;
  verified_at: number | string;
  created_at: number | string;
}

export interface OneTimePrekeysTable {
  id: Generated<number>;
  account_id: string;
  kind: 'ec' | 'kyber';
  key_id: number;
  public_key: Uint8Array;
  signature: Uint8Array | null;
}

export interface LedgerTransactionsTable {
  id: string;
  account_id: string;
  kind: 'purchase' | 'charge';
  idempotency_key: string;
  request_hash: string;
  description: string;
  amount_minor: number | string;
  currency: string;
  balance_after: number | string;
  created_at: number | string;
  /** Purchases: the payment processor's reference (unique); null for charges. */
  payment_reference?: string | null;
}

export interface LedgerEntriesTable {
  id: Generated<number>;
  transaction_id: string;
  /** `user:<accountId>`, `external:payments`, `revenue:usage`. */
  ledger_account: string;
  amount_minor: number | string;
  created_at: number | string;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  scopes: string;
  created_at: number | string;
  revoked_at: number | string | null;
}

export interface PortOutsTable {
  id: string;
  account_id: string;
  number: string;
  to_provider: string;
  signature: string;
  expires_at: number | string;
  completed_at: number | string | null;
  created_at: number | string;
}

export interface MailboxMessagesTable {
  seq: Generated<number>;
  id: string;
  mailbox: string;
  ciphertext: Uint8Array;
  size: number;
  received_at: number | string;
  expires_at: number | string;
  /** The sender's network prefix (`mailboxes.senderPrefix`); '' for rows stored before. */
  sender_prefix: Generated<string>;
}

export interface MailboxOwnersTable {
  mailbox: string;
  first_fetched_at: number | string;
  /** Network prefix of the latest fetch (null for rows stored before it was kept). */
  receiver_prefix: string | null;
}

/** Who fetched whose bundle here, and when the asker last got one-time prekeys of it. */
export interface PrekeyContactsTable {
  target_id: string;
  /** `<providerId>/<accountId>` of the asker. */
  asker: string;
  first_at: number | string;
  one_time_at: number | string | null;
}

/** SQLite: where an account's one-time prekeys are taken from (migration 0010). */
export interface PrekeyCursorsTable {
  account_id: string;
  ec_next: Generated<number | string>;
  ec_taken: number | string | null;
  kyber_next: Generated<number | string>;
  kyber_taken: number | string | null;
}

export interface DirectoryPendingWithdrawalsTable {
  number: string;
  created_at: number | string;
}

/** A registration lock of an account (see `registration-lock.ts`). */
export interface RegistrationLocksTable {
  account_id: string;
  /** scrypt salt (16 bytes) and hash (32 bytes) of the PIN; the PIN is never stored. */
  pin_salt: Uint8Array;
  pin_hash: Uint8Array;
  /** Last authenticated request of the account (updated at most hourly): the lock lapses after inactivity. */
  last_active_at: number | string;
  /** Wrong PINs since `attempts_since` (a window of `registrationLock.pinAttempts`). */
  failed_attempts: number;
  attempts_since: number | string;
}

export interface ReplayNoncesTable {
  key: string;
  expires_at: number | string;
}

export interface RegistrationHandoversTable {
  session_id: string;
  token_hash: string;
  number: string;
  /** 1 when the link asks the device to publish (the page waits for it). */
  publishes: number;
  created_at: number | string;
  expires_at: number | string;
  redeemed_at: number | string | null;
}

/** Every table of the provider API. */
export interface ProviderTables {
  verification_sessions: VerificationSessionsTable;
  accounts: AccountsTable;
  one_time_prekeys: OneTimePrekeysTable;
  ledger_transactions: LedgerTransactionsTable;
  ledger_entries: LedgerEntriesTable;
  api_keys: ApiKeysTable;
  port_outs: PortOutsTable;
  mailbox_messages: MailboxMessagesTable;
  mailbox_owners: MailboxOwnersTable;
  prekey_contacts: PrekeyContactsTable;
  prekey_cursors: PrekeyCursorsTable;
  directory_pending_withdrawals: DirectoryPendingWithdrawalsTable;
  replay_nonces: ReplayNoncesTable;
  registration_locks: RegistrationLocksTable;
  registration_handovers: RegistrationHandoversTable;
}
