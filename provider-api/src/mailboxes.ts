import { createHash, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from './deps.js';
import type { Selectable } from 'kysely';
import type { MailboxMessagesTable } from './store/schema.js';
import { fail, rateLimited } from './errors.js';
import { ed25519PublicKey, isoTime, toBase64 } from './encoding.js';

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

function view(row: Omit<Selectable<MailboxMessagesTable>, 'seq'>): MailboxMessage {
  return {
    messageId: row.id,
    ciphertext: toBase64(row.ciphertext),
    receivedAt: isoTime(row.received_at),
    expiresAt: isoTime(row.expires_at),
  };
}

/** Queues opaque ciphertext for a mailbox, within the size and count caps. */
export async function deliver(
  deps: ProviderDeps,
  hub: MailboxHub,
  mailbox: string,
  ciphertextBase64: string,
  clientAddress: string,
): Promise<ProviderSchema<'MailboxReceipt'>> {
  const { maxMessageBytes, maxMessagesPerMailbox, ttlSeconds } = deps.config.mailboxes;
  const limit = deps.limits.mailboxPerAddress.take(clientAddress);
  if (!limit.allowed) throw rateLimited(limit.retryAfterSeconds, 'deliveries');
  const ciphertext = Buffer.from(ciphertextBase64, 'base64');
  if (ciphertext.length > maxMessageBytes) {
    throw fail('mailbox.message-too-large', `a message may be at most ${maxMessageBytes} bytes`);
  }
  const now = deps.now();
  await sweepExpired(deps);
  const count = await deps.db
    .selectFrom('mailbox_messages')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('mailbox', '=', mailbox)
    .executeTakeFirst();
  if (Number(count?.n ?? 0) >= maxMessagesPerMailbox) {
    throw fail('mailbox.full', 'the mailbox is full; its owner has to fetch and delete messages');
  }
  const row = {
    id: randomUUID(),
    mailbox,
    ciphertext,
    size: ciphertext.length,
    received_at: now,
    expires_at: now + ttlSeconds * 1000,
  };
  await deps.db.insertInto('mailbox_messages').values(row).execute();
  const message = view(row);
  hub.publish(mailbox, message);
  return { messageId: row.id, expiresAt: message.expiresAt };
}

/** Queued, unexpired messages, oldest first. */
export async function receive(
  deps: ProviderDeps,
  mailbox: string,
  limit: number,
): Promise<ProviderSchema<'MailboxMessages'>> {
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

/** Deletes expired messages everywhere. */
export async function sweepExpired(deps: Pick<ProviderDeps, 'db' | 'now'>): Promise<void> {
  await deps.db.deleteFrom('mailbox_messages').where('expires_at', '<=', deps.now()).execute();
}
