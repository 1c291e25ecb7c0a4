import { BridgeError } from '../src/model/errors.js';
import {
  addressFromUri,
  escapeId,
  parseRemoteKey,
  remoteKeyFor,
  unescapeId,
} from '../src/routing/addressing.js';
import type { Target } from '../src/model/model.js';

describe('remote keys', () => {
  const cases: Array<[Target, string]> = [
    [
      { kind: 'address', address: { network: 'sip', id: 'alice@sip.test' } },
      'sip_alice=40sip.test',
    ],
    [
      { kind: 'address', address: { network: 'xmpp', id: 'Bob_1@xmpp.test' } },
      'xmpp_=42ob=5f1=40xmpp.test',
    ],
    [
      { kind: 'address', address: { network: 'matrix', id: '@carol:hs.test' } },
      'mx_=40carol=3ahs.test',
    ],
    [{ kind: 'phone', e164: '+15550100' }, 'tel_15550100'],
  ];
  it.each(cases)('encodes %j as %s and back', (target, key) => {
    expect(remoteKeyFor(target)).toBe(key);
    expect(parseRemoteKey(key)).toEqual(target);
  });

  it('keeps only [a-z0-9.-=] so every network accepts the key', () => {
    for (const [target] of cases) expect(remoteKeyFor(target)).toMatch(/^[a-z0-9._=-]+$/);
    expect(escapeId('ü@x')).toBe('=c3=bc=40x');
    expect(unescapeId('=c3=bc=40x')).toBe('ü@x');
  });

  it('accepts a typed +E.164 number', () => {
    expect(parseRemoteKey('+4915112345678')).toEqual({ kind: 'phone', e164: '+4915112345678' });
  });

  it.each([
    'nounderscore',
    'irc_x=40y',
    'sip_alice=4',
    'sip_al ice=40x',
    'tel_12',
    'sip_=ff=40x',
    'xmpp_nodomain',
  ])('refuses %s with invalid-address', (key) => {
    expect(() => parseRemoteKey(key)).toThrow(BridgeError);
    try {
      parseRemoteKey(key);
    } catch (err) {
      expect(BridgeError.is(err, 'invalid-address')).toBe(true);
    }
  });

  it('turns directory contact URIs into addresses', () => {
    expect(addressFromUri('sip:alice@sip.test;transport=ws')).toEqual({
      network: 'sip',
      id: 'alice@sip.test',
    });
    expect(addressFromUri('xmpp:bob@xmpp.test')).toEqual({ network: 'xmpp', id: 'bob@xmpp.test' });
    expect(addressFromUri('matrix:u/carol:hs.test')).toEqual({
      network: 'matrix',
      id: '@carol:hs.test',
    });
    expect(() => addressFromUri('matrix:r/room:hs.test')).toThrow(/names a user|u\//);
    expect(() => addressFromUri('mailto:x@y')).toThrow(BridgeError);
  });
});
