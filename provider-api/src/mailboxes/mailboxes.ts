import { createHash, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Notifications } from '@switchboard/db';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import type { Selectable, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { MailboxMessagesTable, ProviderTables } from '../store/schema.js';
import { fail, rateLimited } from '../core/errors.js';
import { ed25519PublicKey, isoTime, toBase64 } from '../core/encoding.js';

type MailboxMessage = ProviderSchema<'MailboxMessage'>;

/** The mailbox address of a raw Ed25519 public key: base64url(SHA-256(key)), no padding. */
export function mailboxAddressFor(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('base64url');
}

/**
 * The key a mailbox request may be signed with: the `keyid` is the raw public key (base64url),
 * and it must hash to the mailbox address. Anything else is unknown to this mailbox.
 */
export function mailboxKeyResolver(mailbox: string): (keyId: string) => KeyObject | undefined {
  return (keyId) => (ownsMailbox(keyId, mailbox) ? mailboxKeyOf(keyId) : undefined);
}

/** The Ed25519 key a mailbox `keyid` names (raw key, base64url), if it is one. */
export function mailboxKeyOf(keyId: string): KeyObject | undefined {
  if (!/^[A-Za-z0-9_-]{43}$/.test(keyId)) return undefined;
  return ed25519PublicKey(Buffer.from(keyId, 'base64url'));
}

/** True when `keyId` is the key whose hash is `mailbox`. */
export function ownsMailbox(keyId: string, mailbox: string): boolean {
  return (
    /^[A-Za-z0-9_-]{43}$/.test(keyId) &&
    mailboxAddressFor(Buffer.from(keyId, 'base64url')) === mailbox
  );
}

/** Listeners for pushed messages, per mailbox (the WebSocket side). */
export class MailboxHub {
  readonly #listeners = new Map<string, Set<(m: MailboxMessage) => void>>();
  /** Tells this replica's deliveries apart from others' in relayed notifications. */
  readonly origin = randomUUID();
  /** The PostgreSQL channel deliveries are announced on, once {@link startMailboxRelay} ran. */
  relayChannel: string | undefined;

  /** Whether anyone here listens to `mailbox`. */
  has(mailbox: string): boolean {
    return this.#listeners.has(mailbox);
  }

  subscribe(mailbox: string, listener: (m: MailboxMessage) => void): () => void {
    const set = this.#listeners.get(mailbox) ?? new Set();
    set.add(listener);
    this.#listeners.set(mailbox, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(mailbox);
    };
  }

  publish(mailbox: string, message: MailboxMessage): void {
    for (const listener of this.#listeners.get(mailbox) ?? []) listener(message);
  }
}

function view(
  row: Omit<Selectable<MailboxMessagesTable>, 'seq' | 'sender_prefix'>,
): MailboxMessage {
  return {
    messageId: row.id,
    ciphertext: toBase64(row.ciphertext),
    receivedAt: isoTime(row.received_at),
    expiresAt: isoTime(row.expires_at),
  };
}

/** How long the overall stored-bytes figure is reused before it is summed again. */
const STORED_BYTES_REFRESH_MS = 10_000;
const storedBytes = new WeakMap<object, { total: number; at: number }>();

/**
 * Bytes stored in every mailbox: a SUM over the table at most every 10 s per process, plus what
 * this process stored since (other replicas' recent deliveries show up at the next sum).
 */
async function totalStoredBytes(deps: ProviderDeps): Promise<{ total: number; at: number }> {
  const cached = storedBytes.get(deps.db);
  if (cached && deps.now() - cached.at < STORED_BYTES_REFRESH_MS) return cached;
  const row = await deps.db
    .selectFrom('mailbox_messages')
    .select((eb) => eb.fn.sum<number | string | null>('size').as('bytes'))
    .executeTakeFirst();
  const fresh = { total: Number(row?.bytes ?? 0), at: deps.now() };
  storedBytes.set(deps.db, fresh);
  return fresh;
}

/**
 * Queues opaque ciphertext for a mailbox. Delivery is unauthenticated, so it is bounded, a
 * sender being its network prefix (`senderPrefix` lengths): deliveries and bytes per sender and
 * bytes per mailbox an hour (429); messages and bytes stored per mailbox (409 `mailbox.full`),
 * lower while the mailbox is unclaimed; one sender's share of a mailbox and its bytes waiting
 * in all mailboxes (409 `mailbox.sender-limit`), so one sender cannot lock others out; bytes
 * stored overall (507). The stored caps are checked and the message inserted in one
 * transaction under a per-mailbox lock.
 */
export async function deliver(
  deps: ProviderDeps,
  hub: MailboxHub,
  mailbox: string,
  ciphertextBase64: string,
  senderPrefix: string,
): Promise<ProviderSchema<'MailboxReceipt'>> {
  const config = deps.config.mailboxes;
  const limit = deps.limits.mailboxPerAddress.take(senderPrefix);
  if (!limit.allowed) throw rateLimited(limit.retryAfterSeconds, 'deliveries');
  const ciphertext = Buffer.from(ciphertextBase64, 'base64');
  if (ciphertext.length > config.maxMessageBytes) {
    throw fail(
      'mailbox.message-too-large',
      `a message may be at most ${config.maxMessageBytes} bytes`,
    );
  }
  const stored = await totalStoredBytes(deps);
  if (stored.total + ciphertext.length > config.maxStoredBytes) {
    throw fail('mailbox.storage-full', 'mailbox storage of this provider is full; retry later', {
      retryAfterSeconds: Math.ceil(STORED_BYTES_REFRESH_MS / 1000),
    });
  }
  const bySender = deps.limits.mailboxBytesPerSender.take(senderPrefix, ciphertext.length);
  if (!bySender.allowed) throw rateLimited(bySender.retryAfterSeconds, 'bytes from this sender');
  const byMailbox = deps.limits.mailboxBytesPerMailbox.take(mailbox, ciphertext.length);
  if (!byMailbox.allowed) {
    throw rateLimited(byMailbox.retryAfterSeconds, 'bytes for this mailbox');
  }
  const now = deps.now();
  await sweepExpired(deps);
  const row = await deps.db.transaction().execute(async (tx) => {
    if (deps.dialect === 'postgres') {
      // Serialises deliveries to one mailbox so the caps below hold under concurrency (SQLite
      // serialises write transactions itself).
      await sql`select pg_advisory_xact_lock(hashtext(${mailbox}))`.execute(tx);
    }
    const claimed = await checkStoredCaps(deps, tx, mailbox, senderPrefix, ciphertext.length);
    const ttl = claimed
      ? config.ttlSeconds
      : Math.min(config.ttlSeconds, config.unfetchedTtlSeconds);
    const inserted = {
      id: randomUUID(),
      mailbox,
      ciphertext,
      size: ciphertext.length,
      received_at: now,
      expires_at: now + ttl * 1000,
      sender_prefix: senderPrefix,
    };
    await tx.insertInto('mailbox_messages').values(inserted).execute();
    if (hub.relayChannel !== undefined) {
      // Other replicas push it to their subscribers (sent at commit, not before).
      const payload = `${hub.origin} ${mailbox} ${inserted.id}`;
      await sql`select pg_notify(${hub.relayChannel}, ${payload})`.execute(tx);
    }
    return inserted;
  });
  stored.total += row.size;
  const message = view(row);
  hub.publish(mailbox, message);
  return { messageId: row.id, expiresAt: message.expiresAt };
}

/**
 * Checks what is stored against the caps a delivery of `size` bytes from `sender` must keep, and
 * answers whether the mailbox is claimed for this sender: its owner fetched, and last from
 * another network than the sender's (so an attacker fetching its own mailbox from where it
 * delivers gets neither the full lifetime nor the claimed caps).
 */
async function checkStoredCaps(
  deps: ProviderDeps,
  tx: Transaction<ProviderTables>,
  mailbox: string,
  sender: string,
  size: number,
): Promise<boolean> {
  const config = deps.config.mailboxes;
  const owner = await tx
    .selectFrom('mailbox_owners')
    .select('receiver_prefix')
    .where('mailbox', '=', mailbox)
    .executeTakeFirst();
  const claimed = owner !== undefined && owner.receiver_prefix !== sender;
  const usage = await tx
    .selectFrom('mailbox_messages')
    .select((eb) => [
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.sum<number | string | null>('size').as('bytes'),
      eb.fn
        .sum<number | string | null>(
          eb.case().when('sender_prefix', '=', sender).then(1).else(0).end(),
        )
        .as('senderN'),
      eb.fn
        .sum<number | string | null>(
          eb.case().when('sender_prefix', '=', sender).then(eb.ref('size')).else(0).end(),
        )
        .as('senderBytes'),
    ])
    .where('mailbox', '=', mailbox)
    .executeTakeFirst();
  const maxCount = claimed
    ? config.maxMessagesPerMailbox
    : Math.min(config.maxMessagesPerMailbox, config.maxMessagesPerUnclaimedMailbox);
  const maxBytes = claimed
    ? config.maxBytesPerMailbox
    : Math.min(config.maxBytesPerMailbox, config.maxBytesPerUnclaimedMailbox);
  if (Number(usage?.n ?? 0) >= maxCount || Number(usage?.bytes ?? 0) + size > maxBytes) {
    throw fail('mailbox.full', 'the mailbox is full; its owner has to fetch and delete messages');
  }
  if (
    Number(usage?.senderN ?? 0) >= config.maxMessagesPerSenderPerMailbox ||
    Number(usage?.senderBytes ?? 0) + size > config.maxBytesPerSenderPerMailbox
  ) {
    throw fail(
      'mailbox.sender-limit',
      'too many of your messages wait in this mailbox; retry once its owner fetched them',
    );
  }
  const bySender = await tx
    .selectFrom('mailbox_messages')
    .select((eb) => eb.fn.sum<number | string | null>('size').as('bytes'))
    .where('sender_prefix', '=', sender)
    .executeTakeFirst();
  if (Number(bySender?.bytes ?? 0) + size > config.maxStoredBytesPerSenderPrefix) {
    throw fail(
      'mailbox.sender-limit',
      'too many bytes from your network wait in mailboxes here; retry once they are fetched',
    );
  }
  return claimed;
}

/**
 * Pushes deliveries made on other replicas (PostgreSQL) to this replica's subscribers: each
 * delivery is announced with pg_notify at commit, and a replica with a subscriber for that
 * mailbox reads the message and pushes it. A notification missed while the listening
 * connection is re-established costs only the push: the message is stored, and clients pull.
 */
export async function startMailboxRelay(
  deps: Pick<ProviderDeps, 'db' | 'logger'>,
  hub: MailboxHub,
  notifications: Notifications,
): Promise<() => Promise<void>> {
  // Reads of one mailbox's deliveries run one after another, so they are pushed in the order
  // they were announced (concurrent reads on a pool can finish in any order).
  const inOrder = new Map<string, Promise<void>>();
  const relay = async (mailbox: string, id: string): Promise<void> => {
    try {
      const row = await deps.db
        .selectFrom('mailbox_messages')
        .select(['id', 'mailbox', 'ciphertext', 'size', 'received_at', 'expires_at'])
        .where('id', '=', id)
        .where('mailbox', '=', mailbox)
        .executeTakeFirst();
      if (row) hub.publish(mailbox, view(row));
    } catch (err) {
      deps.logger.warn({ err }, 'relayed mailbox delivery not read');
    }
  };
  const stop = await notifications.listen(RELAY_CHANNEL, (payload) => {
    const [origin, mailbox, id] = payload.split(' ');
    if (!origin || !mailbox || !id || origin === hub.origin || !hub.has(mailbox)) return;
    const next = (inOrder.get(mailbox) ?? Promise.resolve()).then(() => relay(mailbox, id));
    inOrder.set(mailbox, next);
    void next.then(() => {
      if (inOrder.get(mailbox) === next) inOrder.delete(mailbox);
    });
  });
  hub.relayChannel = notifications.channel(RELAY_CHANNEL);
  return async () => {
    hub.relayChannel = undefined;
    await stop();
  };
}

const RELAY_CHANNEL = 'mailbox';

/**
 * Records that the owner fetched (pull or push) and from which network: later messages from
 * other networks get the full lifetime and the claimed caps. Written only when the network
 * changed.
 */
export async function markFetched(
  deps: Pick<ProviderDeps, 'db' | 'now'>,
  mailbox: string,
  receiverPrefix: string,
): Promise<void> {
  await deps.db
    .insertInto('mailbox_owners')
    .values({ mailbox, first_fetched_at: deps.now(), receiver_prefix: receiverPrefix })
    .onConflict((oc) =>
      oc
        .column('mailbox')
        .doUpdateSet({ receiver_prefix: receiverPrefix })
        .where((eb) =>
          eb.or([
            eb('mailbox_owners.receiver_prefix', 'is', null),
            eb('mailbox_owners.receiver_prefix', '!=', receiverPrefix),
          ]),
        ),
    )
    .execute();
}

/** Queued, unexpired messages, oldest first. */
export async function receive(
  deps: ProviderDeps,
  mailbox: string,
  limit: number,
  receiverPrefix: string,
): Promise<ProviderSchema<'MailboxMessages'>> {
  await markFetched(deps, mailbox, receiverPrefix);
  const rows = await deps.db
    .selectFrom('mailbox_messages')
    .selectAll()
    .where('mailbox', '=', mailbox)
    .where('expires_at', '>', deps.now())
    .orderBy('seq')
    .limit(limit)
    .execute();
  return { messages: rows.map(view) };
}

/** Deletes (acknowledges) one message. */
export async function acknowledge(
  deps: ProviderDeps,
  mailbox: string,
  messageId: string,
): Promise<void> {
  const result = await deps.db
    .deleteFrom('mailbox_messages')
    .where('mailbox', '=', mailbox)
    .where('id', '=', messageId)
    .executeTakeFirst();
  if (Number(result.numDeletedRows) !== 1) {
    throw fail('mailbox.message-not-found', 'no such message in this mailbox');
  }
}

/** Deletes (acknowledges) the listed messages that are in the mailbox; answers how many. */
export async function acknowledgeMany(
  deps: ProviderDeps,
  mailbox: string,
  messageIds: readonly string[],
): Promise<ProviderSchema<'MailboxAcknowledged'>> {
  const result = await deps.db
    .deleteFrom('mailbox_messages')
    .where('mailbox', '=', mailbox)
    .where('id', 'in', [...messageIds])
    .executeTakeFirst();
  return { deleted: Number(result.numDeletedRows) };
}

/** Deletes expired messages everywhere. */
export async function sweepExpired(deps: Pick<ProviderDeps, 'db' | 'now'>): Promise<void> {
  await deps.db.deleteFrom('mailbox_messages').where('expires_at', '<=', deps.now()).execute();
}
