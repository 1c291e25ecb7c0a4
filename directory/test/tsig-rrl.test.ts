import { createHmac } from 'node:crypto';
import {
  decodeMessage,
  encodeMessage,
  encodeName,
  Rcode,
  RRClass,
  RRType,
} from '@switchboard/dns-wire';
import { ResponseRateLimiter } from '../src/dns/rrl.js';
import {
  parseTsigKey,
  signTsigRequest,
  findTsig,
  signTsigResponse,
  tsigErrorResponse,
  tsigStream,
  verifyTsigRequest,
} from '../src/transfer/tsig.js';
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

  it('answers a failed request with the TSIG error: unsigned for BADSIG, signed for BADTIME', () => {
    const { bytes, mac: requestMac } = signTsigRequest(request, key, NOW);
    const notauth = encodeMessage({
      ...decodeMessage(request),
      qr: true,
      rcode: Rcode.NOTAUTH,
    });
    // BADSIG (and BADKEY): a TSIG with the error and no MAC (RFC 8945 5.3.2).
    const tampered = Buffer.from(bytes);
    tampered[13] = tampered[13]! ^ 1;
    const badsig = verifyTsigRequest(tampered, [key], NOW);
    if (badsig.status !== 'failed') throw new Error('expected a failure');
    const unsigned = tsigErrorResponse(notauth, badsig, NOW);
    const part = findTsig(unsigned)!;
    expect(decodeMessage(unsigned).rcode).toBe(Rcode.NOTAUTH);
    expect(part).toMatchObject({ keyName: 'xfr.example.', error: Rcode.BADSIG, timeSigned: NOW });
    expect(part.mac).toHaveLength(0);
    // BADTIME: signed so the client can check it; Time Signed is the request's, Other Data the
    // server's clock. The client's check, written out from RFC 8945 4.3.3 and 5.3.2:
    const later = NOW + 1000;
    const badtime = verifyTsigRequest(bytes, [key], later);
    if (badtime.status !== 'failed') throw new Error('expected a failure');
    expect(badtime.error).toBe(Rcode.BADTIME);
    const signed = tsigErrorResponse(notauth, badtime, later);
    const t = findTsig(signed)!;
    expect(t).toMatchObject({ error: Rcode.BADTIME, timeSigned: NOW, fudge: 300 });
    expect(Buffer.from(t.otherData).readUIntBE(0, 6)).toBe(later);
    const u48 = (n: number): Buffer => {
      const b = Buffer.alloc(6);
      b.writeUIntBE(n, 0, 6);
      return b;
    };
    const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
    const expected = createHmac('sha256', key.secret)
      .update(Buffer.concat([u16(requestMac.length), Buffer.from(requestMac)]))
      .update(notauth)
      .update(encodeName('xfr.example.'))
      .update(u16(RRClass.ANY))
      .update(Buffer.alloc(4))
      .update(encodeName('hmac-sha256.'))
      .update(u48(NOW))
      .update(u16(300))
      .update(u16(Rcode.BADTIME))
      .update(u16(6))
      .update(u48(later))
      .digest();
    expect(Buffer.from(t.mac)).toEqual(expected);
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
