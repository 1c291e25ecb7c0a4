import { encodeMessage, Rcode, RRType } from '@switchboard/dns-wire';
import { ResponseRateLimiter } from '../src/rrl.js';
import {
  parseTsigKey,
  signTsigRequest,
  signTsigResponse,
  tsigStream,
  verifyTsigRequest,
} from '../src/tsig.js';
import { query } from './helpers.js';

const key = parseTsigKey('hmac-sha256:xfr.example:' + Buffer.alloc(32, 7).toString('base64'));
const NOW = 1_790_000_000;

describe('TSIG (RFC 8945, hmac-sha256)', () => {
  const request = encodeMessage(query('e164.switchboard.test.', RRType.AXFR, { edns: false }));

  it('verifies what it signs and chains responses from the request MAC', () => {
    const { bytes, mac } = signTsigRequest(request, key, NOW);
    const check = verifyTsigRequest(bytes, [key], NOW + 10);
    expect(check.status).toBe('ok');
    if (check.status !== 'ok') return;
    expect(Buffer.from(check.part.mac)).toEqual(Buffer.from(mac));
    const stream = tsigStream(key, check.part);
    const first = signTsigResponse(request, stream, NOW);
    const second = signTsigResponse(request, stream, NOW);
    expect(first.length).toBeGreaterThan(request.length);
    expect(Buffer.from(first)).not.toEqual(Buffer.from(second));
  });

  it('reports BADSIG for a changed message, BADKEY for an unknown key, BADTIME when stale', () => {
    const { bytes } = signTsigRequest(request, key, NOW);
    const tampered = Buffer.from(bytes);
    tampered[13] = tampered[13]! ^ 1; // inside the question name
    expect(verifyTsigRequest(tampered, [key], NOW)).toMatchObject({
      status: 'failed',
      error: Rcode.BADSIG,
    });
    const other = parseTsigKey('other.example:' + Buffer.alloc(32, 9).toString('base64'));
    expect(verifyTsigRequest(bytes, [other], NOW)).toMatchObject({
      status: 'failed',
      error: Rcode.BADKEY,
    });
    expect(verifyTsigRequest(bytes, [key], NOW + 301)).toMatchObject({
      status: 'failed',
      error: Rcode.BADTIME,
    });
    expect(verifyTsigRequest(request, [key], NOW)).toEqual({ status: 'none' });
  });

  it('refuses weak or malformed keys', () => {
    expect(() => parseTsigKey('name:' + Buffer.alloc(8).toString('base64'))).toThrow(/16 bytes/);
    expect(() => parseTsigKey('no-secret')).toThrow(/name:base64secret/);
  });
});

describe('response rate limiting', () => {
  it('sends up to the rate, then slips every second response and drops the rest', () => {
    let now = 0;
    const rrl = new ResponseRateLimiter(
      { responsesPerSecond: 3, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 },
      () => now,
    );
    const decisions = Array.from({ length: 7 }, () => rrl.check('192.0.2.7', 'x'));
    expect(decisions).toEqual(['send', 'send', 'send', 'drop', 'slip', 'drop', 'slip']);
    // Same /24 shares the bucket; another network does not.
    expect(rrl.check('192.0.2.200', 'x')).not.toBe('send');
    expect(rrl.check('198.51.100.1', 'x')).toBe('send');
    now += 1000;
    expect(rrl.check('192.0.2.7', 'x')).toBe('send');
  });

  it('groups IPv6 and IPv4-mapped clients by prefix', () => {
    const rrl = new ResponseRateLimiter(
      { responsesPerSecond: 1, slip: 0, ipv4Prefix: 24, ipv6Prefix: 56 },
      () => 0,
    );
    expect(rrl.check('2001:db8:1:ff:3::1', 'x')).toBe('send');
    // Same /56: another address of the same client network shares the bucket.
    expect(rrl.check('2001:db8:1:12::9', 'x')).toBe('drop');
    expect(rrl.check('2001:db8:1:100::1', 'x')).toBe('send');
    expect(rrl.check('192.0.2.77', 'x')).toBe('send');
    expect(rrl.check('::ffff:192.0.2.1', 'x')).toBe('drop');
  });
});
