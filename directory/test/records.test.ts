import { RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import type { Contact } from '../src/zone/records.js';
import {
  checkContacts,
  checkIdentityKey,
  checkServable,
  RecordInputError,
  recordsForEntry,
  TCP_MESSAGE_OCTETS,
  UDP_ANSWER_OCTETS,
  unservable,
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
    // RFC 3986 characters only: non-ASCII is percent-encoded, so characters are octets.
    ['sip', `sip:${'€'.repeat(185)}@a.example`, 'invalid-contact'],
    ['sip', 'sip:j%C3%BCrgen@example.de', 'accepted'],
    ['sip', 'sip:jürgen@example.de', 'invalid-contact'],
    ['sip', 'sip:a"b@example.net', 'invalid-contact'],
    ['sip', 'sip:a\\b@example.net', 'invalid-contact'],
    ['sip', 'sip:a\u0000b@example.net', 'invalid-contact'],
    ['sip', 'sip:a%zzb@example.net', 'invalid-contact'],
    ['xmpp', `xmpp:${'a'.repeat(185)}@a.example`, 'accepted'],
    ['xmpp', `xmpp:${'a'.repeat(186)}@a.example`, 'invalid-contact'],
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

describe('what the DNS can serve, in octets', () => {
  const base = {
    number: '+442079460958' as E164Number,
    provider: 'acme-telecom',
    identityKey: identity().publicBase64,
  };
  const apex = 'e164.switchboard.test.';
  const entry = (...uris: string[]): typeof base & { contacts: Contact[] } => ({
    ...base,
    contacts: uris.map((uri) => ({ service: 'sip', uri })),
  });

  it('finds a URI whose NAPTR regexp is over 255 octets of UTF-8, though under 200 characters', () => {
    const hostile = `sip:${'€'.repeat(185)}@a.example`;
    expect(hostile.length).toBe(199);
    const why = unservable(entry('sip:a@b.example', hostile), apex, 300, TCP_MESSAGE_OCTETS);
    expect(why?.field).toBe('contacts/1/uri');
    expect(why?.reason).toContain('576 octets');
    expect(why?.reason).not.toContain('€');
  });

  it('takes a regexp of exactly 255 octets and refuses 256 (the 7 octets of !^.*$!...! count)', () => {
    const uri = (octets: number): string => `sip:${'a'.repeat(octets - 4 - 10)}@a.example`;
    expect(unservable(entry(uri(248)), apex, 300, TCP_MESSAGE_OCTETS)).toBeUndefined();
    expect(unservable(entry(uri(249)), apex, 300, TCP_MESSAGE_OCTETS)?.field).toBe(
      'contacts/0/uri',
    );
  });

  it('refuses an RRset whose signed answer would not fit a UDP reply, naming the contacts', () => {
    const long = `sip:${'a'.repeat(234)}@a.example`;
    const four = entry(long, long, long, long);
    expect(unservable(four, apex, 300, TCP_MESSAGE_OCTETS)).toBeUndefined();
    const why = unservable(four, apex, 300, UDP_ANSWER_OCTETS);
    expect(why?.field).toBe('contacts');
    expect(why?.reason).toMatch(/signed NAPTR answer would be \d+ octets, over 1232/);
  });

  it('serves the largest entry the publish checks let through within a UDP answer', () => {
    const contacts = checkContacts([
      { service: 'sip', uri: `sip:${'a'.repeat(186)}@a.example` },
      { service: 'xmpp', uri: `xmpp:${'b'.repeat(185)}@a.example` },
      { service: 'matrix', uri: `matrix:u/${'c'.repeat(181)}:a.example` },
    ]);
    expect(contacts.every((c) => c.uri.length === 200)).toBe(true);
    expect(() => checkServable({ ...base, contacts }, apex, 300)).not.toThrow();
  });

  it('turns what cannot be served into the publish API problem naming the field', () => {
    let caught: unknown;
    try {
      checkServable(entry(`sip:${'ü'.repeat(130)}@a.example`), apex, 300);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RecordInputError);
    expect((caught as RecordInputError).code).toBe('invalid-contact');
    expect((caught as RecordInputError).message).toMatch(/^body\/contacts\/0\/uri: /);
  });
});
