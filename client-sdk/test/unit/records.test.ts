import { contactMethodsFromNaptr, identityFromTxt, toBase64, utf8 } from '../../src/index.js';

const KEY = new Uint8Array(33).fill(7);
KEY[0] = 0x05;

function naptr(order: number, preference: number, services: string, uri: string, flags = 'u') {
  return { order, preference, flags, services, regexp: `!^.*$!${uri}!`, replacement: '.' };
}

describe('contact methods from NAPTR (docs/directory-records.md)', () => {
  it('sorts by order then preference and maps the services', () => {
    const methods = contactMethodsFromNaptr([
      naptr(100, 30, 'E2U+matrix', 'matrix:u/alice:example.net'),
      naptr(100, 10, 'E2U+sip', 'sip:alice@sip.example.net'),
      naptr(100, 20, 'E2U+xmpp', 'xmpp:alice@xmpp.example.net'),
    ]);
    expect(methods.map((m) => m.service)).toEqual(['sip', 'xmpp', 'matrix']);
    expect(methods[0]!.uri).toBe('sip:alice@sip.example.net');
  });

  it('ignores unknown services, non-terminal flags, odd regexps and mismatched schemes', () => {
    expect(
      contactMethodsFromNaptr([
        naptr(100, 10, 'E2U+email', 'mailto:a@example.net'),
        naptr(100, 10, 'E2U+sip', 'sip:a@example.net', ''),
        { ...naptr(100, 10, 'E2U+sip', 'sip:a@example.net'), regexp: '!^(.*)$!sip:\\1@x!' },
        naptr(100, 10, 'E2U+sip', 'xmpp:a@example.net'),
      ]),
    ).toEqual([]);
  });
});

describe('identity record sbkey1', () => {
  const txt = (...strings: string[]) => ({ texts: strings.map((s) => utf8(s)) });

  it('parses key and provider, concatenating character-strings and ignoring unknown tags', () => {
    const full = `v=sbkey1; k=${toBase64(KEY)}; p=acme-telecom; x=future`;
    const r = identityFromTxt([txt('unrelated'), txt(full.slice(0, 20), full.slice(20))]);
    expect(r.identityKey).toEqual(KEY);
    expect(r.providerId).toBe('acme-telecom');
  });

  it('refuses missing, duplicated and malformed records with typed errors', () => {
    const code = (records: Array<{ texts: Uint8Array[] }>): string | undefined => {
      try {
        identityFromTxt(records);
      } catch (err) {
        return (err as { code: string }).code;
      }
      return undefined;
    };
    expect(code([txt('v=spf1 -all')])).toBe('not-found');
    const ok = `v=sbkey1; k=${toBase64(KEY)}; p=acme`;
    expect(code([txt(ok), txt(ok)])).toBe('not-found');
    expect(code([txt('v=sbkey1; p=acme')])).toBe('directory-record-invalid');
    expect(code([txt(`v=sbkey1; k=${toBase64(KEY.subarray(1))}; p=acme`)])).toBe(
      'directory-record-invalid',
    );
    expect(code([txt(`v=sbkey1; k=${toBase64(KEY)}; p=ACME`)])).toBe('directory-record-invalid');
    expect(code([txt(`v=sbkey1; k=${toBase64(KEY)}; k=${toBase64(KEY)}; p=acme`)])).toBe(
      'directory-record-invalid',
    );
    expect(code([txt(`v=sbkey1; k=${toBase64(KEY)}; p=acme; garbage`)])).toBe(
      'directory-record-invalid',
    );
  });
});
