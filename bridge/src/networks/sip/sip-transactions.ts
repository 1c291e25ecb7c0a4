import type { SipRequest, SipResponse } from './sip-message.js';

/** Timer F (RFC 3261 §17.1.2.2): 64 x T1, how long a non-INVITE client transaction lives. */
export const TIMER_F_MS = 64 * 500;

/** Why a client transaction ended without a final response. */
export class TransactionError extends Error {
  override readonly name = 'TransactionError';
  constructor(readonly reason: 'timeout' | 'transport') {
    super(reason === 'timeout' ? 'no final response within timer F' : 'the connection was lost');
  }
}

interface Pending {
  readonly method: string;
  readonly resolve: (res: SipResponse) => void;
  readonly reject: (err: TransactionError) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Non-INVITE client transactions over a reliable transport (RFC 3261 §17.1.2): nothing is
 * retransmitted; each transaction settles exactly once, with its first final response, with
 * {@link TransactionError} `timeout` after timer F, or `transport` when the connection it
 * went out on is lost ({@link failAll}). Provisional responses are absorbed. Responses are
 * matched on the top Via branch and the CSeq method (§17.1.3).
 */
export class ClientTransactions {
  readonly #pending = new Map<string, Pending>();
  readonly #timerFMs: number;

  constructor(timerFMs: number = TIMER_F_MS) {
    this.#timerFMs = timerFMs;
  }

  /** Transactions waiting for a final response. */
  get size(): number {
    return this.#pending.size;
  }

  /** Starts the transaction of branch `branch` (the caller then sends the request). */
  start(branch: string, method: string): Promise<SipResponse> {
    if (this.#pending.has(branch)) throw new Error('branch already in use');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(branch);
        reject(new TransactionError('timeout'));
      }, this.#timerFMs);
      timer.unref();
      this.#pending.set(branch, { method, resolve, reject, timer });
    });
  }

  /**
   * Hands a response to its transaction. False when none matches (a late or stray answer,
   * which the caller drops).
   */
  onResponse(res: SipResponse): boolean {
    const pending = this.#pending.get(res.branch);
    if (!pending || pending.method !== res.cseqMethod) return false;
    if (res.status < 200) return true;
    this.#pending.delete(res.branch);
    clearTimeout(pending.timer);
    pending.resolve(res);
    return true;
  }

  /** Ends every transaction with `transport` (the connection they went out on is gone). */
  failAll(): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new TransactionError('transport'));
    }
  }
}

/**
 * Non-INVITE server transactions over a reliable transport (RFC 3261 §17.2.2): a request
 * whose transaction (top Via branch and method, §17.2.3) is still being handled is absorbed,
 * not handled twice. Timer J is zero on a reliable transport, so a transaction is forgotten
 * as soon as its final response is sent. A request without a branch is never absorbed.
 */
export class ServerTransactions {
  readonly #open = new Set<string>();

  /** Opens the request's transaction; false when it is open already (a retransmission). */
  open(req: SipRequest): boolean {
    if (!req.branch) return true;
    const key = `${req.branch}\n${req.method}`;
    if (this.#open.has(key)) return false;
    this.#open.add(key);
    return true;
  }

  /** Closes it once its final response went out. */
  close(req: SipRequest): void {
    this.#open.delete(`${req.branch}\n${req.method}`);
  }

  /** Open transactions. */
  get size(): number {
    return this.#open.size;
  }
}
