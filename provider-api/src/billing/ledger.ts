import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import type { LedgerTransactionsTable, ProviderTables } from '../store/schema.js';
import { fail } from '../core/errors.js';
import { ProviderApiError } from '@switchboard/openapi';

const isApiError = (err: unknown): boolean => err instanceof ProviderApiError;
import { isoTime, sha256Hex } from '../core/encoding.js';

// Double-entry: every transaction writes entries that sum to zero. A user's balance is the sum of
// the entries on `user:<accountId>`; money comes in from `external:payments` and goes out to
// `revenue:usage`. Amounts are integers in the currency's minor unit.

const userLedger = (accountId: string): string => `user:${accountId}`;
const PAYMENTS = 'external:payments';
const REVENUE = 'revenue:usage';

interface Posting {
  readonly accountId: string;
  readonly kind: 'purchase' | 'charge';
  readonly idempotencyKey: string;
  /** Hash of the request body: a reused key with a different body is refused. */
  readonly requestHash: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly description: string;
  /** Purchases: credits at most once per provider. */
  readonly paymentReference?: string;
}

const referenceReused = (): Error =>
  fail(
    'credit.payment-reference-reused',
    'this payment reference was already recorded under another Idempotency-Key',
  );

/**
 * Moves an account's credit (its transactions and ledger entries, so balance and statement) to
 * the account that replaced it on re-registration, inside the registration's transaction: credit
 * is never left on an account that no longer exists.
 */
export async function carryLedgerOver(
  tx: Transaction<ProviderTables>,
  fromAccountId: string,
  toAccountId: string,
): Promise<void> {
  await tx
    .updateTable('ledger_entries')
    .set({ ledger_account: userLedger(toAccountId) })
    .where('ledger_account', '=', userLedger(fromAccountId))
    .execute();
  await tx
    .updateTable('ledger_transactions')
    .set({ account_id: toAccountId })
    .where('account_id', '=', fromAccountId)
    .execute();
}

async function balanceIn(tx: Transaction<ProviderTables>, accountId: string): Promise<number> {
  const row = await tx
    .selectFrom('ledger_entries')
    .select((eb) => eb.fn.sum<number | string | null>('amount_minor').as('total'))
    .where('ledger_account', '=', userLedger(accountId))
    .executeTakeFirst();
  return Number(row?.total ?? 0);
}

/**
 * Posts one idempotent transaction. Concurrent requests for one account are serialised (a row
 * lock on the account in PostgreSQL; SQLite serialises writers), so a retried request finds the
 * first one's record and returns it instead of posting again.
 */
async function post(
  deps: ProviderDeps,
  p: Posting,
): Promise<{ row: LedgerTransactionsTable; replayed: boolean }> {
  if (p.currency !== deps.config.currency) {
    throw fail('credit.currency-mismatch', `this provider keeps credit in ${deps.config.currency}`);
  }
  try {
    return await postOnce(deps, p);
  } catch (err) {
    // Two accounts recording one reference at once: the unique index refuses the second.
    if (p.paymentReference !== undefined && !isApiError(err)) {
      const recorded = await deps.db
        .selectFrom('ledger_transactions')
        .select(['account_id', 'idempotency_key'])
        .where('payment_reference', '=', p.paymentReference)
        .executeTakeFirst();
      if (recorded) {
        if (recorded.account_id === p.accountId && recorded.idempotency_key === p.idempotencyKey)
          return postOnce(deps, p);
        throw referenceReused();
      }
    }
    throw err;
  }
}

async function postOnce(
  deps: ProviderDeps,
  p: Posting,
): Promise<{ row: LedgerTransactionsTable; replayed: boolean }> {
  return deps.db.transaction().execute(async (tx) => {
    const account = await tx
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', p.accountId)
      .$if(deps.dialect === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (!account) throw fail('account.not-found', 'no such account');
    const existing = await tx
      .selectFrom('ledger_transactions')
      .selectAll()
      .where('account_id', '=', p.accountId)
      .where('kind', '=', p.kind)
      .where('idempotency_key', '=', p.idempotencyKey)
      .executeTakeFirst();
    if (existing) {
      if (existing.request_hash !== p.requestHash) {
        throw fail(
          'credit.idempotency-key-reused',
          'this Idempotency-Key was used for a different request; use a new key',
        );
      }
      return { row: existing, replayed: true };
    }
    if (p.paymentReference !== undefined) {
      const recorded = await tx
        .selectFrom('ledger_transactions')
        .select('id')
        .where('payment_reference', '=', p.paymentReference)
        .executeTakeFirst();
      if (recorded) throw referenceReused();
    }
    const before = await balanceIn(tx, p.accountId);
    const delta = p.kind === 'purchase' ? p.amountMinor : -p.amountMinor;
    if (before + delta < 0) {
      throw fail('credit.insufficient-funds', 'the account does not have enough credit');
    }
    const now = deps.now();
    const row: LedgerTransactionsTable = {
      id: randomUUID(),
      account_id: p.accountId,
      kind: p.kind,
      idempotency_key: p.idempotencyKey,
      request_hash: p.requestHash,
      description: p.description,
      amount_minor: p.amountMinor,
      currency: p.currency,
      balance_after: before + delta,
      created_at: now,
      payment_reference: p.paymentReference ?? null,
    };
    await tx.insertInto('ledger_transactions').values(row).execute();
    const counterparty = p.kind === 'purchase' ? PAYMENTS : REVENUE;
    await tx
      .insertInto('ledger_entries')
      .values([
        {
          transaction_id: row.id,
          ledger_account: userLedger(p.accountId),
          amount_minor: delta,
          created_at: now,
        },
        {
          transaction_id: row.id,
          ledger_account: counterparty,
          amount_minor: -delta,
          created_at: now,
        },
      ])
      .execute();
    return { row, replayed: false };
  });
}

/**
 * Records a captured payment as credit (idempotent by key; a payment reference credits at most
 * once). Only the payment side calls this (operator key with `billing:write`).
 */
export async function purchaseCredit(
  deps: ProviderDeps,
  idempotencyKey: string,
  input: ProviderSchema<'CreditPurchaseRequest'>,
): Promise<ProviderSchema<'CreditPurchase'>> {
  const { row } = await post(deps, {
    accountId: input.accountId,
    kind: 'purchase',
    idempotencyKey,
    requestHash: sha256Hex(
      JSON.stringify([input.amountMinor, input.currency, input.paymentReference]),
    ),
    amountMinor: input.amountMinor,
    currency: input.currency,
    description: 'credit purchase',
    paymentReference: input.paymentReference,
  });
  return {
    purchaseId: row.id,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    balanceMinor: Number(row.balance_after),
    createdAt: isoTime(row.created_at),
  };
}

/** A billable action to charge, e.g. a PSTN call leg. */
export interface ChargeInput {
  readonly accountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly description: string;
  /** Retrying with the same key never charges twice. */
  readonly idempotencyKey: string;
}

/**
 * The charging hook for billable actions (PSTN termination and the like): debits the account,
 * refusing with 402 `credit.insufficient-funds` when the balance would go negative.
 */
export async function chargeAccount(
  deps: ProviderDeps,
  input: ChargeInput,
): Promise<ProviderSchema<'Charge'>> {
  const { row } = await post(deps, {
    accountId: input.accountId,
    kind: 'charge',
    idempotencyKey: input.idempotencyKey,
    requestHash: sha256Hex(JSON.stringify([input.amountMinor, input.currency, input.description])),
    amountMinor: input.amountMinor,
    currency: input.currency,
    description: input.description,
  });
  return {
    chargeId: row.id,
    accountId: row.account_id,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    balanceMinor: Number(row.balance_after),
    createdAt: isoTime(row.created_at),
  };
}

/** The current balance. */
export async function getBalance(
  deps: ProviderDeps,
  accountId: string,
): Promise<ProviderSchema<'Balance'>> {
  const row = await deps.db
    .selectFrom('ledger_entries')
    .select((eb) => eb.fn.sum<number | string | null>('amount_minor').as('total'))
    .where('ledger_account', '=', userLedger(accountId))
    .executeTakeFirst();
  return { balanceMinor: Number(row?.total ?? 0), currency: deps.config.currency };
}

/** The account's ledger lines, newest first, paged by `before`. */
export async function getStatement(
  deps: ProviderDeps,
  accountId: string,
  limit: number,
  before: number | undefined,
): Promise<ProviderSchema<'Statement'>> {
  const rows = await deps.db
    .selectFrom('ledger_entries as e')
    .innerJoin('ledger_transactions as t', 't.id', 'e.transaction_id')
    .select([
      'e.id',
      'e.amount_minor',
      'e.created_at',
      't.id as transaction_id',
      't.kind',
      't.description',
    ])
    .where('e.ledger_account', '=', userLedger(accountId))
    .$if(before !== undefined, (qb) => qb.where('e.id', '<', before ?? 0))
    .orderBy('e.id', 'desc')
    .limit(limit)
    .execute();
  return {
    currency: deps.config.currency,
    lines: rows.map((r) => ({
      lineId: Number(r.id),
      transactionId: r.transaction_id,
      kind: r.kind,
      description: r.description,
      amountMinor: Number(r.amount_minor),
      createdAt: isoTime(r.created_at),
    })),
  };
}

/** Sum of every entry (zero when the books balance); for tests and audits. */
export async function trialBalance(deps: ProviderDeps): Promise<number> {
  const row = await deps.db
    .selectFrom('ledger_entries')
    .select((eb) => eb.fn.sum<number | string | null>('amount_minor').as('total'))
    .executeTakeFirst();
  return Number(row?.total ?? 0);
}
