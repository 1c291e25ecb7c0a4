import { randomBytes } from 'node:crypto';
import { BridgeError } from '../src/model/errors.js';
import type { OutboundMessage } from '../src/model/model.js';
import { FragmentAssembler, sendFragments } from '../src/networks/sip/sip-fragments.js';
import {
  FRAGMENT_MEDIA_TYPE,
  MAX_FRAGMENTS,
  fromSipMessage,
  parseSipFragment,
  sipStatusFor,
  toSipMessages,
} from '../src/translators/sip.js';
import type { SipFragment, SipMessageIn } from '../src/translators/sip.js';

const sender = { kind: 'address', address: { network: 'xmpp', id: 'bob@xmpp.test' } } as const;
const bigEnvelope = new Uint8Array(randomBytes(200 * 1024));
const toCarol = (bytes: Uint8Array, id = 'm-1'): OutboundMessage => ({
  id,
  from: { network: 'xmpp', id: 'bob@xmpp.test' },
  to: { network: 'sip', id: 'carol@sip.test' },
  payload: { kind: 'envelope', bytes },
});

/** The fragments of `bytes` as a receiver reads them. */
function fragmentsOf(bytes: Uint8Array, id = 'm-1', maxBody = 8192): SipFragment[] {
  return toSipMessages(toCarol(bytes, id), sender, 'sip.test', maxBody).map((out, i) =>
    parseSipFragment({
      fromUri: out.fromUri,
      toUri: out.targetUri,
      contentType: out.contentType,
      body: out.body,
      callId: `c${i}`,
      cseq: 1,
      messageId: header(out.extraHeaders, 'X-Switchboard-Message-Id'),
      fragment: header(out.extraHeaders, 'X-Switchboard-Fragment'),
    }),
  );
}

function header(headers: readonly string[], name: string): string | undefined {
  const line = headers.find((h) => h.startsWith(`${name}: `));
  return line?.slice(name.length + 2);
}

function caught(fn: () => unknown): BridgeError {
  try {
    fn();
  } catch (err) {
    if (BridgeError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a BridgeError');
}

describe('SIP fragments: sending side', () => {
  it('sends an envelope that fits as one MESSAGE', () => {
    const out = toSipMessages(toCarol(new Uint8Array(6000)), sender, 'sip.test', 8192);
    expect(out).toHaveLength(1);
    expect(out[0]!.contentType).toBe('application/vnd.switchboard.envelope');
  });

  it('cuts a longer envelope into numbered fragments under the limit, in base64 quads', () => {
    const out = toSipMessages(toCarol(bigEnvelope), sender, 'sip.test', 8190);
    const text = Buffer.from(bigEnvelope).toString('base64');
    expect(out).toHaveLength(Math.ceil(text.length / 8188));
    out.forEach((m, i) => {
      expect(m.contentType).toBe(FRAGMENT_MEDIA_TYPE);
      expect(m.body.length).toBeLessThanOrEqual(8190);
      expect(m.body.length % 4 === 0 || i === out.length - 1).toBe(true);
      expect(m.extraHeaders).toEqual([
        'X-Switchboard-Message-Id: m-1',
        `X-Switchboard-Fragment: ${i + 1}/${out.length}`,
      ]);
    });
    expect(out.map((m) => m.body).join('')).toBe(text);
  });

  it('refuses to cut plaintext (relay only) that does not fit', () => {
    const msg: OutboundMessage = {
      ...toCarol(bigEnvelope),
      payload: { kind: 'plaintext', text: 'x'.repeat(9000) },
    };
    expect(caught(() => toSipMessages(msg, sender, 'sip.test', 8192)).code).toBe(
      'delivery-rejected',
    );
  });
});

describe('SIP fragments: reading', () => {
  const base: SipMessageIn = {
    fromUri: 'sip:alice@sip.test',
    toUri: 'sip:xmpp_bob=40xmpp.test@sip.test',
    contentType: FRAGMENT_MEDIA_TYPE,
    body: 'AAAA',
    callId: 'c1',
    cseq: 1,
    messageId: 'm-1',
    fragment: '2/3',
  };

  it('reads index, count and id', () => {
    expect(parseSipFragment(base)).toEqual({ messageId: 'm-1', index: 2, count: 3, text: 'AAAA' });
  });

  it.each([
    ['no message id', { messageId: undefined }, 'invalid-envelope', 400],
    ['a message id with spaces', { messageId: 'a b' }, 'invalid-envelope', 400],
    ['no fragment header', { fragment: undefined }, 'invalid-envelope', 400],
    ['a malformed header', { fragment: '2 of 3' }, 'invalid-envelope', 400],
    ['index 0', { fragment: '0/3' }, 'invalid-envelope', 400],
    ['an index past the count', { fragment: '4/3' }, 'invalid-envelope', 400],
    ['an oversized count', { fragment: `1/${MAX_FRAGMENTS + 1}` }, 'invalid-envelope', 400],
    ['a huge count', { fragment: '1/99999' }, 'invalid-envelope', 400],
    ['an empty body', { body: '  ' }, 'invalid-envelope', 400],
    ['an oversized body', { body: 'A'.repeat(65_540) }, 'envelope-too-large', 513],
  ])('refuses %s', (_what, change, code, status) => {
    const err = caught(() => parseSipFragment({ ...base, ...change }));
    expect(err.code).toBe(code);
    expect(sipStatusFor(err).code).toBe(status);
  });

  it('keys a MESSAGE with a message id by sender and id, so a resend in a new transaction is one message', () => {
    const body = Buffer.from([1, 2, 3]).toString('base64');
    const msg = { ...base, contentType: 'application/vnd.switchboard.envelope', body };
    const first = fromSipMessage(msg);
    const resent = fromSipMessage({ ...msg, callId: 'c2' });
    expect(first.nativeId).toBe(resent.nativeId);
    const otherSender = fromSipMessage({ ...msg, fromUri: 'sip:mallory@sip.test' });
    expect(otherSender.nativeId).not.toBe(first.nativeId);
  });
});

describe('SIP fragments: reassembly', () => {
  const text = Buffer.from(bigEnvelope).toString('base64');

  it('reassembles fragments in any order, byte for byte', () => {
    const asm = new FragmentAssembler();
    const frags = fragmentsOf(bigEnvelope);
    const shuffled = [...frags].reverse();
    const outcomes = shuffled.map((f) => asm.add('alice@sip.test', f));
    expect(outcomes.slice(0, -1).every((o) => o.kind === 'partial')).toBe(true);
    expect(outcomes.at(-1)).toEqual({ kind: 'complete', text });
    expect(asm.held).toEqual({ partials: 0, chars: 0 });
  });

  it('ignores a duplicated fragment and refuses one that differs from the first copy', () => {
    const asm = new FragmentAssembler();
    const [a, b] = fragmentsOf(bigEnvelope);
    asm.add('alice@sip.test', a!);
    const held = asm.held;
    expect(asm.add('alice@sip.test', a!)).toEqual({ kind: 'partial' });
    expect(asm.held).toEqual(held);
    const changed = { ...a!, text: b!.text };
    expect(caught(() => asm.add('alice@sip.test', changed)).code).toBe('invalid-envelope');
  });

  it('refuses a fragment whose count differs from the earlier ones', () => {
    const asm = new FragmentAssembler();
    const [a, b] = fragmentsOf(bigEnvelope);
    asm.add('alice@sip.test', a!);
    expect(caught(() => asm.add('alice@sip.test', { ...b!, count: b!.count + 1 })).code).toBe(
      'invalid-envelope',
    );
  });

  it('keeps senders apart: the same id from another sender is another message', () => {
    const asm = new FragmentAssembler();
    const frags = fragmentsOf(bigEnvelope);
    for (const f of frags.slice(0, -1)) asm.add('alice@sip.test', f);
    expect(asm.add('mallory@sip.test', frags.at(-1)!)).toEqual({ kind: 'partial' });
    expect(asm.add('alice@sip.test', frags.at(-1)!)).toEqual({ kind: 'complete', text });
  });

  it('drops an incomplete message when no fragment came within the timeout', () => {
    let now = 0;
    const asm = new FragmentAssembler({ timeoutMs: 1000 }, () => now);
    const frags = fragmentsOf(bigEnvelope);
    asm.add('alice@sip.test', frags[0]!);
    now = 900;
    asm.add('alice@sip.test', frags[1]!);
    now = 1800; // 1800 ms after the first, 900 after the last: kept
    asm.sweep();
    expect(asm.held.partials).toBe(1);
    now = 1900;
    asm.sweep();
    expect(asm.held).toEqual({ partials: 0, chars: 0 });
    // What was held is gone: the rest alone does not complete the envelope.
    const rest = frags.slice(2).map((f) => asm.add('alice@sip.test', f));
    expect(rest.every((o) => o.kind === 'partial')).toBe(true);
  });

  it('answers late copies of a taken message without holding them', () => {
    const asm = new FragmentAssembler();
    const frags = fragmentsOf(bigEnvelope);
    for (const f of frags) asm.add('alice@sip.test', f);
    asm.taken('alice@sip.test', 'm-1');
    expect(asm.add('alice@sip.test', frags[0]!)).toEqual({ kind: 'already-complete' });
    expect(asm.held).toEqual({ partials: 0, chars: 0 });
  });

  it('refuses fragments adding up to more than the largest envelope', () => {
    const asm = new FragmentAssembler();
    const body = 'A'.repeat(60_000);
    const add = (index: number): unknown =>
      asm.add('alice@sip.test', { messageId: 'big', index, count: 8, text: body });
    for (let i = 1; i <= 5; i++) add(i);
    expect(caught(() => add(6)).code).toBe('envelope-too-large');
    expect(asm.held).toEqual({ partials: 0, chars: 0 });
  });

  it('bounds a flood of unique ids per sender, and in all, with a retryable refusal', () => {
    const asm = new FragmentAssembler({ partialsPerSender: 4, partials: 10 });
    const frag = (id: string): SipFragment => ({ messageId: id, index: 1, count: 2, text: 'AAAA' });
    for (let i = 0; i < 4; i++) asm.add('mallory@sip.test', frag(`f${i}`));
    const err = caught(() => asm.add('mallory@sip.test', frag('f4')));
    expect(err.code).toBe('rate-limited');
    expect(sipStatusFor(err).code).toBe(503);
    expect(err.retryAfterSeconds).toBeGreaterThan(0);
    expect(asm.held.partials).toBe(4);
    // Other senders still get room, up to the total.
    for (let s = 0; s < 6; s++) asm.add(`user${s}@sip.test`, frag('x'));
    expect(caught(() => asm.add('late@sip.test', frag('x'))).code).toBe('rate-limited');
    expect(asm.held.partials).toBe(10);
  });

  it('bounds the characters held per sender and in all', () => {
    const asm = new FragmentAssembler({ charsPerSender: 100_000, chars: 150_000 });
    const frag = (id: string): SipFragment => ({
      messageId: id,
      index: 1,
      count: 2,
      text: 'A'.repeat(60_000),
    });
    asm.add('mallory@sip.test', frag('a'));
    expect(caught(() => asm.add('mallory@sip.test', frag('b'))).code).toBe('rate-limited');
    expect(asm.held).toEqual({ partials: 1, chars: 60_000 });
    asm.add('alice@sip.test', frag('a'));
    expect(caught(() => asm.add('carol@sip.test', frag('a'))).code).toBe('rate-limited');
    expect(asm.held).toEqual({ partials: 2, chars: 120_000 });
  });
});

describe('SIP fragments: sending with progress kept between attempts', () => {
  it('sends only what an earlier, failed attempt left, and is done on a 200', async () => {
    const acked = new Set<number>();
    const sent: number[] = [];
    const failing = (i: number): Promise<number> => {
      sent.push(i);
      return i === 5
        ? Promise.reject(new BridgeError('network-unavailable', 'gone'))
        : Promise.resolve(202);
    };
    await expect(sendFragments(10, acked, 1, failing)).rejects.toMatchObject({
      code: 'network-unavailable',
    });
    // One at a time: 0-4 answered, 5 failed, nothing started after the failure.
    expect(sent).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...acked]).toEqual([0, 1, 2, 3, 4]);
    const second: number[] = [];
    const complete = await sendFragments(10, acked, 4, (i) => {
      second.push(i);
      return Promise.resolve(i === 9 ? 200 : 202);
    });
    expect(complete).toBe(true);
    expect(second.sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9]);
  });

  it('reports an envelope the receiver did not complete (every fragment answered 202)', async () => {
    const acked = new Set<number>();
    expect(await sendFragments(3, acked, 4, () => Promise.resolve(202))).toBe(false);
    expect(acked.size).toBe(3);
  });

  it('keeps no more than the window in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const pending: Array<() => void> = [];
    const done = sendFragments(12, new Set(), 4, () => {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise<number>((resolve) =>
        pending.push(() => {
          inFlight--;
          resolve(200);
        }),
      );
    });
    let settled = false;
    void done.finally(() => (settled = true));
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      pending.splice(0).forEach((release) => release());
    }
    expect(await done).toBe(true);
    expect(most).toBe(4);
  });
});
