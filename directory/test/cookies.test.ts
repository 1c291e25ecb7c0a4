import { addressOctets, DnsCookies, parseCookieSecrets } from '../src/dns/cookies.js';
import { SipHashKey } from '../src/dns/siphash.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('SipHash-2-4', () => {
  // The reference implementation's vectors (vectors.h, output octets in order; appendix A of the
  // paper prints the 15-octet one as the number a129ca6149be45e5):
  // key 00..0f, message 00..(n-1).
  const key = new SipHashKey(Uint8Array.from({ length: 16 }, (_, i) => i));
  const message = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);
  it.each([
    [0, '310e0edd47db6f72'],
    [1, 'fd67dc93c539f874'],
    [7, '37d1018bf50002ab'],
    [8, '6224939a79f5f593'],
    [15, 'e545be4961ca29a1'],
  ])('hashes %i octets as the reference does', (n, expected) => {
    expect(toHex(key.hash(message(n)))).toBe(expected);
  });
});

describe('RFC 9018 server cookies (Appendix A)', () => {
  const secret1 = hex('e5e973e5a6b2a43f48e7dc849e37bfcf');
  const reply = (cookies: DnsCookies, query: string, address: string, now: number): string => {
    const q = hex(query);
    const out = new Uint8Array(24);
    cookies.reply(q, cookies.check(q, address, now), address, now, out, 0);
    return toHex(out);
  };

  it('A.1: a client cookie alone gets a new server cookie', () => {
    const cookies = new DnsCookies([secret1]);
    expect(cookies.check(hex('2464c4abcf10c957'), '198.51.100.100', 1559731985)).toBe('client');
    expect(reply(cookies, '2464c4abcf10c957', '198.51.100.100', 1559731985)).toBe(
      '2464c4abcf10c957010000005cf79f111f8130c3eee29480',
    );
  });

  it('A.2: a valid cookie 40 minutes old is renewed', () => {
    const cookies = new DnsCookies([secret1]);
    const query = '2464c4abcf10c957010000005cf79f111f8130c3eee29480';
    expect(cookies.check(hex(query), '198.51.100.100', 1559734385)).toBe('valid');
    expect(reply(cookies, query, '198.51.100.100', 1559734385)).toBe(
      '2464c4abcf10c957010000005cf7a871d4a564a1442aca77',
    );
  });

  it('A.3: reserved octets the client sent are hashed; an old cookie is renewed', () => {
    const cookies = new DnsCookies([secret1]);
    const query = 'fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5';
    // Made 1 h 52 min before: outside the one-hour lifetime, so treated as a client cookie...
    expect(cookies.check(hex(query), '203.0.113.203', 1559734700)).toBe('invalid');
    expect(reply(cookies, query, '203.0.113.203', 1559734700)).toBe(
      'fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e',
    );
    // ...but its hash is right: within its lifetime it verifies.
    expect(cookies.check(hex(query), '203.0.113.203', 0x5cf78f71 + 60)).toBe('valid');
    expect(cookies.check(hex(query), '203.0.113.204', 0x5cf78f71 + 60)).toBe('invalid');
  });

  it('A.4: IPv6, after a secret rollover the old secret still verifies and the new one signs', () => {
    const oldSecret = hex('dd3bdf9344b678b185a6f5cb60fca715');
    const newSecret = hex('445536bcd2513298075a5d379663c962');
    const address = '2001:db8:220:1:59de:d0f4:8769:82b8';
    const query = '22681ab97d52c298010000005cf7c57926556bd0934c72f8';
    expect(new DnsCookies([newSecret]).check(hex(query), address, 1559741961)).toBe('invalid');
    const rolled = new DnsCookies([newSecret, oldSecret]);
    expect(rolled.check(hex(query), address, 1559741961)).toBe('valid');
    expect(reply(rolled, '22681ab97d52c298', address, 1559741961)).toBe(
      '22681ab97d52c298010000005cf7c609a6bb79d16625507a',
    );
  });

  it('refuses cookies from the future beyond 5 minutes and of the wrong shape', () => {
    const cookies = new DnsCookies([secret1]);
    const made = '2464c4abcf10c957010000005cf79f111f8130c3eee29480';
    expect(cookies.check(hex(made), '198.51.100.100', 1559731985 - 300)).toBe('valid');
    expect(cookies.check(hex(made), '198.51.100.100', 1559731985 - 301)).toBe('invalid');
    expect(cookies.check(hex(made), '198.51.100.100', 1559731985 + 3601)).toBe('invalid');
    expect(cookies.check(hex('2464c4abcf10c9'), '198.51.100.100', 0)).toBe('malformed');
    expect(cookies.check(new Uint8Array(12), '198.51.100.100', 0)).toBe('malformed');
    expect(cookies.check(new Uint8Array(41), '198.51.100.100', 0)).toBe('malformed');
    expect(cookies.check(new Uint8Array(32), '198.51.100.100', 0)).toBe('invalid');
  });

  it('reads addresses and secrets', () => {
    expect(toHex(addressOctets('::ffff:192.0.2.1')!)).toBe('c0000201');
    expect(toHex(addressOctets('2001:db8::1')!)).toBe('20010db8000000000000000000000001');
    expect(toHex(addressOctets('::')!)).toBe('00000000000000000000000000000000');
    expect(addressOctets('2001:db8::1::2')).toBeUndefined();
    expect(addressOctets('1:2:3:4:5:6:7')).toBeUndefined();
    expect(
      parseCookieSecrets('e5e973e5a6b2a43f48e7dc849e37bfcf,\n445536bcd2513298075a5d379663c962'),
    ).toHaveLength(2);
    expect(() => parseCookieSecrets('abc')).toThrow(/32 hexadecimal digits/);
    expect(() => parseCookieSecrets('  ')).toThrow(/no cookie secret/);
  });
});
