import { randomUUID, sign, timingSafeEqual } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import { fail } from '../core/errors.js';
import { isoTime } from '../core/encoding.js';
import {
  deleteAccountRows,
  loadAccount,
  oweWithdrawal,
  settleWithdrawal,
  withNumberLock,
} from './accounts.js';
import { DirectoryPublishError } from '../core/directory-client.js';

/** The bytes a release signs (the directory's `ReleaseProof`). */
export function releaseMessage(
  number: string,
  from: string,
  to: string,
  expiresAt: number,
): Buffer {
  return Buffer.from(`switchboard-release-v1\n${number}\n${from}\n${to}\n${expiresAt}`);
}

/** Issues a release of the account's number to another provider, signed by this provider. */
export async function issuePortOut(
  deps: ProviderDeps,
  accountId: string,
  input: ProviderSchema<'PortOutRequest'>,
): Promise<ProviderSchema<'PortOutAuthorisation'>> {
  const account = await loadAccount(deps.db, accountId);
  if (!deps.providerKey) {
    throw fail('service.unavailable', 'this provider has no accredited key to sign releases with');
  }
  const from = deps.config.providerId;
  const expiresAt = Math.floor(deps.now() / 1000) + deps.config.portOutTtlSeconds;
  const signature = sign(
    null,
    releaseMessage(account.number, from, input.toProvider, expiresAt),
    deps.providerKey,
  ).toString('base64');
  const id = randomUUID();
  await deps.db
    .insertInto('port_outs')
    .values({
      id,
      account_id: account.id,
      number: account.number,
      to_provider: input.toProvider,
      signature,
      expires_at: expiresAt * 1000,
      completed_at: null,
      created_at: deps.now(),
    })
    .execute();
  deps.logger.info({ accountId, portOutId: id }, 'port-out release issued');
  return {
    portOutId: id,
    release: { kind: 'release', from, to: input.toProvider, expiresAt, signature },
    expiresAt: isoTime(expiresAt * 1000),
  };
}

/**
 * The gaining provider reports the move done: the account and its keys are removed here. The
 * directory entry is left alone only when the directory shows that this provider no longer holds
 * the number (the gaining provider published it, or nobody holds it); if it still holds it for
 * this provider, or cannot be asked, the withdrawal is recorded as owed in the same transaction
 * and carried out now or by `reconcileDirectory`, so DNS never keeps serving an entry whose keys
 * are gone. (A withdrawal of a number another provider holds changes nothing: it answers 404.)
 */
export async function completePortOut(
  deps: ProviderDeps,
  input: ProviderSchema<'CompletePortOut'>,
): Promise<void> {
  const row = await deps.db
    .selectFrom('port_outs')
    .selectAll()
    .where('id', '=', input.portOutId)
    .executeTakeFirst();
  if (!row) throw fail('port.not-found', 'no such port-out (it may be completed already)');
  const expected = Buffer.from(row.signature, 'base64');
  const given = Buffer.from(input.signature, 'base64');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw fail('port.authorisation-invalid', 'the signature is not the one this release carried');
  }
  if (Number(row.expires_at) <= deps.now()) {
    throw fail('port.authorisation-expired', 'the release expired before the move completed');
  }
  // Under the number's lock, so that no opt-in publishes between the check and the deletion.
  const owed = await withNumberLock(deps, row.number, async () => {
    const stillListed = await listedHere(deps, row.number, row.account_id);
    await deps.db.transaction().execute(async (tx) => {
      const account = await tx
        .selectFrom('accounts')
        .select(['id', 'number'])
        .where('id', '=', row.account_id)
        .executeTakeFirst();
      // deleteAccountRows also deletes this port-out row.
      if (account) await deleteAccountRows(tx, account.number);
      await tx.deleteFrom('port_outs').where('id', '=', row.id).execute();
      if (stillListed) await oweWithdrawal(tx, row.number, deps.now());
    });
    return stillListed;
  });
  deps.logger.info(
    { portOutId: row.id, withdrawalOwed: owed },
    'port-out completed; account removed',
  );
  if (owed) await settleWithdrawal(deps, row.number);
}

/**
 * Whether the directory may still serve this provider's entry for `number`: what the directory
 * says, or (when it cannot be asked) whether the account was published here.
 */
async function listedHere(deps: ProviderDeps, number: string, accountId: string): Promise<boolean> {
  const account = await deps.db
    .selectFrom('accounts')
    .select('discoverable')
    .where('id', '=', accountId)
    .executeTakeFirst();
  const pending = await deps.db
    .selectFrom('directory_pending_withdrawals')
    .select('number')
    .where('number', '=', number)
    .executeTakeFirst();
  const published = account?.discoverable === 1 || pending !== undefined;
  if (!deps.directory) return published;
  try {
    return await deps.directory.holds(number);
  } catch (err) {
    deps.logger.warn(
      { err: err instanceof DirectoryPublishError ? err.message : err },
      'could not ask the directory who holds a ported-out number; its withdrawal is owed',
    );
    return true;
  }
}
