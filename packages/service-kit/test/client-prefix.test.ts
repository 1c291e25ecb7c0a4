import { clientPrefix } from '../src/index.js';

describe('clientPrefix', () => {
  it.each([
    ['192.0.2.77', {}, '192.0.2.77/32'],
    ['192.0.2.77', { ipv4Prefix: 24 }, '192.0.2.0/24'],
    ['::ffff:192.0.2.77', { ipv4Prefix: 24 }, '192.0.2.0/24'],
    ['2001:db8::1', {}, '20010db8000000000000000000000000/64'],
    ['2001:db8:0:0:ffff:1:2:3', {}, '20010db8000000000000000000000000/64'],
    ['2001:db8:0:1234::1', { ipv6Prefix: 56 }, '20010db8000012000000000000000000/56'],
    ['2001:db8:0:12ff::1', { ipv6Prefix: 58 }, '20010db8000012c00000000000000000/58'],
    ['fe80::1%eth0', {}, 'fe800000000000000000000000000000/64'],
    ['::1', { ipv6Prefix: 128 }, '00000000000000000000000000000001/128'],
    ['not an address', {}, 'other:not an address'],
  ])('%s %j -> %s', (address, lengths, expected) => {
    expect(clientPrefix(address, lengths)).toBe(expected);
  });

  it('puts every address of one IPv6 /64 in one bucket, and other /64s in others', () => {
    expect(clientPrefix('2001:db8:1:2:aaaa::1')).toBe(clientPrefix('2001:db8:1:2:bbbb::9'));
    expect(clientPrefix('2001:db8:1:2::1')).not.toBe(clientPrefix('2001:db8:1:3::1'));
  });
});
