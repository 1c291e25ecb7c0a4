import { MAX_ENVELOPE_TEXT_CHARS } from '../../model/envelope.js';
import { BridgeError } from '../../model/errors.js';
import type { SipFragment } from '../../translators/sip.js';

/** Bounds on the fragments a receiving bridge holds while it waits for the rest. */
export interface FragmentLimits {
  /** Incomplete messages one sender may have at once. */
  readonly partialsPerSender: number;
  /** Characters held for one sender. */
  readonly charsPerSender: number;
  /** Incomplete messages held in all. */
  readonly partials: number;
  /** Characters held in all. */
  readonly chars: number;
  /** An incomplete message is dropped when no fragment of it came for this long (ms). */
  readonly timeoutMs: number;
  /** Completed message ids remembered (so late copies of their fragments are not held). */
  readonly completedIds: number;
}

export const DEFAULT_FRAGMENT_LIMITS: FragmentLimits = {
  partialsPerSender: 4,
  charsPerSender: 2 * MAX_ENVELOPE_TEXT_CHARS,
  partials: 256,
  chars: 32 * 1024 * 1024,
  timeoutMs: 60_000,
  completedIds: 4096,
};

/** What one fragment did: more are needed, it completed a message, or it was a late copy. */
export type FragmentOutcome =
  | { readonly kind: 'partial' }
  | { readonly kind: 'complete'; readonly text: string }
  | { readonly kind: 'already-complete' };

interface Incomplete {
  readonly sender: string;
  readonly count: number;
  lastAt: number;
  readonly parts: Map<number, string>;
  chars: number;
}

/** Seconds a sender refused for lack of room is asked to wait. */
const RETRY_AFTER_S = 5;

/**
 * Reassembles envelopes a SIP sender cut into fragments (docs/bridge.md, Fragments), holding
 * bounded memory: per sender and in all, both in incomplete messages and in characters; an
 * incomplete message is dropped when no fragment of it came within a timeout. A fragment seen before is ignored (a
 * different body under the same index, or a count that differs from the first fragment's, is
 * refused). When the limits are reached new fragments are refused with `rate-limited`, which
 * the sender may retry; nothing held is evicted for them.
 */
export class FragmentAssembler {
  readonly #limits: FragmentLimits;
  readonly #now: () => number;
  readonly #partials = new Map<string, Incomplete>();
  readonly #bySender = new Map<string, { partials: number; chars: number }>();
  readonly #completed = new Set<string>();
  #chars = 0;

  constructor(limits: Partial<FragmentLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_FRAGMENT_LIMITS, ...limits };
    this.#now = now;
  }

  /** Incomplete messages and characters held now. */
  get held(): { readonly partials: number; readonly chars: number } {
    return { partials: this.#partials.size, chars: this.#chars };
  }

  /** Takes one fragment from `sender` (its SIP address). Throws {@link BridgeError}. */
  add(sender: string, fragment: SipFragment): FragmentOutcome {
    this.sweep();
    const key = `${sender}\n${fragment.messageId}`;
    if (this.#completed.has(key)) return { kind: 'already-complete' };
    const partial = this.#partials.get(key) ?? this.#open(key, sender, fragment.count);
    if (partial.count !== fragment.count) {
      throw new BridgeError('invalid-envelope', 'fragment count differs from earlier fragments');
    }
    const seen = partial.parts.get(fragment.index);
    if (seen !== undefined) {
      if (seen !== fragment.text) {
        throw new BridgeError('invalid-envelope', 'fragment differs from an earlier copy');
      }
      return { kind: 'partial' };
    }
    if (partial.chars + fragment.text.length > MAX_ENVELOPE_TEXT_CHARS) {
      this.#drop(key);
      throw new BridgeError('envelope-too-large', 'envelope exceeds the size limit');
    }
    try {
      this.#reserve(sender, fragment.text.length);
    } catch (err) {
      if (partial.parts.size === 0) this.#drop(key);
      throw err;
    }
    partial.parts.set(fragment.index, fragment.text);
    partial.chars += fragment.text.length;
    partial.lastAt = this.#now();
    if (partial.parts.size < partial.count) return { kind: 'partial' };
    const text = Array.from({ length: partial.count }, (_, i) => partial.parts.get(i + 1)!).join(
      '',
    );
    this.#drop(key);
    return { kind: 'complete', text };
  }

  /**
   * Records that a completed message was taken (accepted by the core), so later copies of its
   * fragments are answered without being held again.
   */
  taken(sender: string, messageId: string): void {
    const key = `${sender}\n${messageId}`;
    this.#completed.add(key);
    if (this.#completed.size > this.#limits.completedIds) {
      this.#completed.delete(this.#completed.values().next().value as string);
    }
  }

  /** Drops incomplete messages that got no fragment within the timeout. */
  sweep(): void {
    const cutoff = this.#now() - this.#limits.timeoutMs;
    for (const [key, partial] of this.#partials) {
      if (partial.lastAt <= cutoff) this.#drop(key);
    }
  }

  #open(key: string, sender: string, count: number): Incomplete {
    const mine = this.#bySender.get(sender) ?? { partials: 0, chars: 0 };
    if (
      mine.partials >= this.#limits.partialsPerSender ||
      this.#partials.size >= this.#limits.partials
    ) {
      throw full();
    }
    const partial: Incomplete = { sender, count, lastAt: this.#now(), parts: new Map(), chars: 0 };
    this.#partials.set(key, partial);
    this.#bySender.set(sender, { partials: mine.partials + 1, chars: mine.chars });
    return partial;
  }

  /** Counts `chars` more for `sender`, refusing when a budget would be exceeded. */
  #reserve(sender: string, chars: number): void {
    const mine = this.#bySender.get(sender)!;
    if (
      mine.chars + chars > this.#limits.charsPerSender ||
      this.#chars + chars > this.#limits.chars
    ) {
      throw full();
    }
    mine.chars += chars;
    this.#chars += chars;
  }

  #drop(key: string): void {
    const partial = this.#partials.get(key);
    if (!partial) return;
    this.#partials.delete(key);
    this.#chars -= partial.chars;
    const mine = this.#bySender.get(partial.sender)!;
    mine.partials -= 1;
    mine.chars -= partial.chars;
    if (mine.partials === 0) this.#bySender.delete(partial.sender);
  }
}

/**
 * Sends the fragments `0..count-1` not in `acked`, `window` at a time, adding each one the
 * receiver answered to `acked`. Resolves to whether one was answered `200` (the receiver
 * completed the envelope, or had it); rejects with the first failure, after which no further
 * fragment is started (those in flight finish and are counted).
 */
export async function sendFragments(
  count: number,
  acked: Set<number>,
  window: number,
  send: (index: number) => Promise<number>,
): Promise<boolean> {
  const unsent = Array.from({ length: count }, (_, i) => i).filter((i) => !acked.has(i));
  let complete = false;
  let failed = false;
  const worker = async (): Promise<void> => {
    for (let i = unsent.shift(); i !== undefined && !failed; i = unsent.shift()) {
      try {
        if ((await send(i)) === 200) complete = true;
        acked.add(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return complete;
}

function full(): BridgeError {
  return new BridgeError('rate-limited', 'too many incomplete fragmented messages; retry later', {
    retryAfterSeconds: RETRY_AFTER_S,
  });
}
