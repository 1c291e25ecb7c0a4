import { QueryGate, SIGNING_REFUSED, SigningBudget } from '../src/dns/admission.js';
import { DnsCookies } from '../src/dns/cookies.js';
import { ResponseRateLimiter } from '../src/dns/rrl.js';

const RRL = { responsesPerSecond: 0, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 };
const NO_COOKIE = { cookieAt: 0, cookieLength: 0 };
const packet = new Uint8Array(12);

/** Admits signatures until one is refused; how many were admitted (at most `max`). */
function admitted(gate: QueryGate, max = 1000): number {
  for (let n = 0; n < max; n++) {
    try {
      gate.admit();
    } catch (err) {
      expect(err).toBe(SIGNING_REFUSED);
      return n;
    }
  }
  return max;
}

describe('signing admission', () => {
  it('keeps the reserve for verified clients and refills with time', () => {
    let now = 1_000_000;
    const budget = new SigningBudget(
      { signaturesPerSecond: 10, reserve: 4, perClientPerSecond: 0 },
      () => now,
    );
    const gate = new QueryGate(budget, new ResponseRateLimiter(RRL), RRL, undefined, 'e164.test.');
    gate.reset('udp', '192.0.2.1', 1000, packet, NO_COOKIE);
    expect(admitted(gate)).toBe(6);
    expect(gate.limited).toEqual({ reason: 'budget', action: 'tc' });
    gate.reset('tcp', '192.0.2.1', 1000, packet, NO_COOKIE);
    expect(admitted(gate)).toBe(4);
    expect(gate.limited).toEqual({ reason: 'budget', action: 'refused' });
    now += 500; // half a second: 5 tokens, one more than the reserve
    gate.reset('udp', '192.0.2.1', 1000, packet, NO_COOKIE);
    expect(admitted(gate)).toBe(1);
  });

  it('limits each verified client, and runs RRL first for unverified ones', () => {
    const now = 0;
    const budget = new SigningBudget(
      { signaturesPerSecond: 0, reserve: 0, perClientPerSecond: 3 },
      () => now,
    );
    const rrlConfig = { ...RRL, responsesPerSecond: 2, slip: 2 };
    const rrl = new ResponseRateLimiter(rrlConfig, () => now);
    const cookies = new DnsCookies([new Uint8Array(16)]);
    const gate = new QueryGate(budget, rrl, rrlConfig, cookies, 'e164.test.');
    gate.reset('tcp', '192.0.2.1', 0, packet, NO_COOKIE);
    expect(admitted(gate)).toBe(3);
    expect(gate.limited).toEqual({ reason: 'client', action: 'refused' });
    gate.reset('tcp', '198.51.100.1', 0, packet, NO_COOKIE);
    expect(admitted(gate)).toBe(3); // another client
    // Unverified UDP: RRL once per query (2 per second here), then slip and drop.
    const verdicts: string[] = [];
    for (let i = 0; i < 5; i++) {
      gate.reset('udp', '203.0.113.9', 0, packet, NO_COOKIE);
      verdicts.push(admitted(gate, 1) === 1 ? 'signed' : gate.limited!.action);
    }
    expect(verdicts).toEqual(['signed', 'signed', 'drop', 'tc', 'drop']);
    // With a client cookie the slip is BADCOOKIE, which hands it a server cookie.
    gate.reset('udp', '203.0.113.9', 0, packet, NO_COOKIE);
    gate.setCookie(new Uint8Array(8).fill(7));
    expect(admitted(gate, 1)).toBe(0);
    expect(gate.limited).toEqual({ reason: 'rrl', action: 'badcookie' });
    const reply = gate.replyCookie()!;
    // With that server cookie it is verified: not held by RRL.
    gate.reset('udp', '203.0.113.9', 0, packet, NO_COOKIE);
    gate.setCookie(reply);
    expect(gate.cookieStatus).toBe('valid');
    expect(admitted(gate, 2)).toBe(2);
  });

  it('refuses a reserve as large as the budget', () => {
    expect(
      () =>
        new SigningBudget({ signaturesPerSecond: 5, reserve: 5, perClientPerSecond: 0 }, Date.now),
    ).toThrow(/reserve/);
  });
});
