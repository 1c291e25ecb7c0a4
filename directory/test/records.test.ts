import { RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import {
  checkContacts,
  checkIdentityKey,
  RecordInputError,
  recordsForEntry,
} from '../src/zone/records.js';
import { identity } from './helpers.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RecordInputError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('contact checks', () => {
  it.each([
    ['sip', 'sip:alice@sip.example.net', 'accepted'],
    ['sip', 'sips:alice@sip.example.net:5061;transport=tls', 'accepted'],
    ['sip', 'sip:sip.example.net', 'invalid-contact'],
    ['sip', 'xmpp:alice@example.net', 'invalid-contact'],
    ['xmpp', 'xmpp:alice@xmpp.example.net/phone', 'accepted'],
    ['xmpp', 'xmpp:alice@exa mple.net', 'invalid-contact'],
    ['matrix', 'matrix:u/alice:example.net', 'accepted'],
    ['matrix', 'matrix:r/room:example.net', 'invalid-contact'],
    ['matrix', 'matrix:u/Alice:example.net', 'invalid-contact'],
    ['matrix', 'matrix:u/ali!ce:example.net', 'invalid-contact'],
    ['sip', 'sip:alice@example.net\u0007', 'invalid-contact'],
  ])('%s %j -> %s', (service, uri, expected) => {
    expect(codeOf(() => checkContacts([{ service, uri }]))).toBe(expected);
  });

  it('refuses empty, over-long, duplicate and decorated lists', () => {
    const sip = { service: 'sip', uri: 'sip:a@b.example' };
    expect(codeOf(() => checkContacts([]))).toBe('invalid-contact');
    expect(codeOf(() => checkContacts([sip, sip]))).toBe('invalid-contact');
    expect(codeOf(() => checkContacts([{ ...sip, priority: 1 }]))).toBe('invalid-contact');
    expect(codeOf(() => checkContacts('sip:a@b'))).toBe('invalid-contact');
  });

  it('accepts only libsignal Curve25519 public keys', () => {
    expect(codeOf(() => checkIdentityKey(identity().publicBase64))).toBe('accepted');
    const wrongType = Buffer.alloc(33, 1).toString('base64');
    expect(codeOf(() => checkIdentityKey(wrongType))).toBe('invalid-identity-key');
    expect(codeOf(() => checkIdentityKey(Buffer.alloc(32, 5).toString('base64')))).toBe(
      'invalid-identity-key',
    );
  });
});

describe('records of a number', () => {
  it('are the NAPTRs in order and the sbkey1 TXT, all at the ENUM name', () => {
    const key = identity().publicBase64;
    const records = recordsForEntry(
      {
        number: '+442079460958' as E164Number,
        provider: 'acme-telecom',
        identityKey: key,
        contacts: [
          { service: 'matrix', uri: 'matrix:u/alice:example.net' },
          { service: 'sip', uri: 'sip:alice@sip.example.net' },
        ],
      },
      'e164.switchboard.test.',
    );
    expect(new Set(records.map((r) => r.name))).toEqual(
      new Set(['8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.']),
    );
    expect(records.map((r) => r.type)).toEqual([RRType.NAPTR, RRType.NAPTR, RRType.TXT]);
    expect(records[0]?.data).toEqual({
      order: 100,
      preference: 10,
      flags: 'u',
      services: 'E2U+matrix',
      regexp: '!^.*$!matrix:u/alice:example.net!',
      replacement: '.',
    });
    const txt = records[2]?.data as { texts: Uint8Array[] };
    expect(Buffer.from(txt.texts[0]!).toString()).toBe(`v=sbkey1; k=${key}; p=acme-telecom`);
    expect(txt.texts[0]!.length).toBeLessThanOrEqual(255);
  });
});
