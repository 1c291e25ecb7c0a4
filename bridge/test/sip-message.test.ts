import {
  formatRequest,
  MAX_HEADER_CHARS,
  MAX_HEADERS,
  MAX_MESSAGE_CHARS,
  parseNameAddr,
  parseSipMessage,
  SipParseError,
  sipUri,
} from '../src/networks/sip/sip-message.js';
import { badRequestAnswer, hasTag } from '../src/networks/sip/sip-answers.js';
import { digestAuthorization, parseDigestChallenge } from '../src/networks/sip/sip-digest.js';

const HEAD = [
  'MESSAGE sip:xmpp_bob=40xmpp.test@sip.test SIP/2.0',
  'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK-1;rport, SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-0',
  'Max-Forwards: 69',
  'From: "Carol" <sip:carol@sip.test>;tag=f1',
  'To: <sip:xmpp_bob=40xmpp.test@sip.test>',
  'Call-ID: c-1',
  'CSeq: 7 MESSAGE',
  'Content-Type: text/plain',
];

function message(head: readonly string[], body = 'hello'): string {
  return `${head.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

const refused = (text: string): void => {
  expect(() => parseSipMessage(text)).toThrow(SipParseError);
};

describe('SIP message parser', () => {
  it('reads a MESSAGE: start line, headers by any name, CSeq, branch and body', () => {
    const req = parseSipMessage(message(HEAD, 'héllo wörld'));
    expect(req.kind).toBe('request');
    if (req.kind !== 'request') return;
    expect(req.method).toBe('MESSAGE');
    expect(req.uri).toBe('sip:xmpp_bob=40xmpp.test@sip.test');
    expect(req.cseq).toBe(7);
    expect(req.callId).toBe('c-1');
    expect(req.branch).toBe('z9hG4bK-1');
    expect(req.body).toBe('héllo wörld');
    expect(req.headers.get('content-type')).toBe('text/plain');
    expect(req.headers.get('c')).toBe('text/plain');
    expect(req.headers.get('CONTENT-TYPE')).toBe('text/plain');
  });

  it('reads compact header names, folded lines and a response', () => {
    const text = [
      'SIP/2.0 202 Accepted',
      'v: SIP/2.0/WS abc.invalid;branch=z9hG4bK-9',
      'f: <sip:a@s>;tag=1',
      't: <sip:b@s>',
      '   ;tag=2',
      'i: x',
      'CSeq: 3 MESSAGE',
      'l: 0',
      '',
      '',
    ].join('\r\n');
    const res = parseSipMessage(text);
    expect(res.kind).toBe('response');
    if (res.kind !== 'response') return;
    expect(res.status).toBe(202);
    expect(res.cseqMethod).toBe('MESSAGE');
    expect(res.branch).toBe('z9hG4bK-9');
    expect(res.headers.get('to')).toBe('<sip:b@s> ;tag=2');
    expect(res.body).toBe('');
  });

  it('cuts the body at Content-Length, counted in UTF-8 bytes', () => {
    const text = `${HEAD.join('\r\n')}\r\nContent-Length: 3\r\n\r\nébc-extra`;
    expect(parseSipMessage(text).body).toBe('éb');
    refused(`${HEAD.join('\r\n')}\r\nContent-Length: 30\r\n\r\nshort`);
    refused(`${HEAD.join('\r\n')}\r\nContent-Length: -1\r\n\r\n`);
    refused(`${HEAD.join('\r\n')}\r\nContent-Length: 99999999999\r\n\r\n`);
  });

  it('refuses a message missing a header a transaction needs', () => {
    for (const name of ['Via', 'Call-ID', 'CSeq']) {
      refused(message(HEAD.filter((l) => !l.startsWith(`${name}:`))));
    }
  });

  it('refuses bad start lines, CSeq and header names', () => {
    refused(message(['MESSAGE sip:x@y SIP/3.0', ...HEAD.slice(1)]));
    refused(message(['HELLO', ...HEAD.slice(1)]));
    refused(message([...HEAD.slice(0, 6), 'CSeq: 7 REGISTER', ...HEAD.slice(7)]));
    refused(message([...HEAD.slice(0, 6), 'CSeq: x MESSAGE', ...HEAD.slice(7)]));
    refused(message([...HEAD.slice(0, 6), 'CSeq: 99999999999 MESSAGE', ...HEAD.slice(7)]));
    refused(message([...HEAD, 'Bad Name: x']));
    refused(message([...HEAD, 'no colon here']));
    refused(message([HEAD[0]!, ' a continuation with nothing to continue', ...HEAD.slice(1)]));
    refused('');
    refused('\r\n\r\n');
    refused(HEAD.join('\r\n')); // no end of header
  });

  it('refuses over-long headers, too many headers, control characters and huge messages', () => {
    refused(message([...HEAD, `X-Long: ${'a'.repeat(MAX_HEADER_CHARS + 1)}`]));
    const many = Array.from({ length: MAX_HEADERS }, (_, i) => `X-H${i}: v`);
    refused(message([...HEAD, ...many]));
    refused(message([...HEAD, 'X-Nul: a\u0000b']));
    refused(message([...HEAD, 'X-Cr: a\rb']));
    refused(message(HEAD, 'x'.repeat(MAX_MESSAGE_CHARS)));
  });

  it('takes non-ASCII text in header values (UTF-8 display names)', () => {
    const req = parseSipMessage(
      message([...HEAD.slice(0, 3), 'From: "Zoë 日本" <sip:z@s>;tag=1', ...HEAD.slice(4)]),
    );
    expect(parseNameAddr(req.headers.get('from')!).uri).toBe('sip:z@s');
  });

  it('reads name-addr and addr-spec forms with their parameters', () => {
    const a = parseNameAddr('"A \\"q\\" <x>" <sip:a@s;transport=ws>;tag=9;expires=60');
    expect(a.uri).toBe('sip:a@s;transport=ws');
    expect(a.params.get('tag')).toBe('9');
    expect(a.params.get('expires')).toBe('60');
    const b = parseNameAddr('sip:b@s;tag=3');
    expect(b.uri).toBe('sip:b@s');
    expect(b.params.get('tag')).toBe('3');
    expect(() => parseNameAddr('"unterminated <sip:a@s>')).toThrow(SipParseError);
    expect(() => parseNameAddr('<sip:a@s')).toThrow(SipParseError);
    expect(() => parseNameAddr('<not a uri>')).toThrow(SipParseError);
    expect(() => parseNameAddr('')).toThrow(SipParseError);
  });

  it('writes requests with Content-Length and refuses a line break in a header value', () => {
    const text = formatRequest('MESSAGE', 'sip:b@s', [['Call-ID', 'x']], 'é');
    expect(text).toBe('MESSAGE sip:b@s SIP/2.0\r\nCall-ID: x\r\nContent-Length: 2\r\n\r\né');
    expect(() => formatRequest('MESSAGE', 'sip:b@s', [['X-Evil', 'a\r\nVia: x']])).toThrow(
      SipParseError,
    );
  });

  it('escapes the user part of a SIP URI', () => {
    expect(sipUri('xmpp_bob=40xmpp.test@sip.test')).toBe('sip:xmpp_bob=40xmpp.test@sip.test');
    expect(sipUri('a b%@c@sip.test')).toBe('sip:a%20b%25%40c@sip.test');
    expect(sipUri('zoë@sip.test')).toBe('sip:zo%C3%AB@sip.test');
    expect(() => sipUri('nohost@')).toThrow(SipParseError);
    expect(() => sipUri('user@bad host')).toThrow(SipParseError);
  });
});

describe('SIP answers', () => {
  it('answers 400 to a request it could not parse when the echoed fields are there', () => {
    const bad = message([
      ...HEAD,
      'CSeq: 1 MESSAGE',
      `X-Long: ${'a'.repeat(MAX_HEADER_CHARS + 1)}`,
    ]);
    refused(bad);
    const answer = badRequestAnswer(bad)!;
    expect(answer).toMatch(/^SIP\/2\.0 400 Bad Request\r\n/);
    expect(answer).toContain('Call-ID: c-1');
    expect(answer).toMatch(/To: <sip:xmpp_bob=40xmpp\.test@sip\.test>;tag=/);
    expect(answer).not.toContain('X-Long');
    expect(badRequestAnswer('SIP/2.0 200 OK\r\n\r\n')).toBeUndefined();
    expect(badRequestAnswer(message(HEAD.filter((l) => !l.startsWith('Via'))))).toBeUndefined();
    expect(badRequestAnswer('garbage')).toBeUndefined();
  });

  it('finds a tag outside the URI only', () => {
    expect(hasTag('<sip:a@s;tag=x>')).toBe(false);
    expect(hasTag('<sip:a@s>;tag=x')).toBe(true);
    expect(hasTag('sip:a@s;tag=x')).toBe(true);
  });
});

describe('SIP digest authentication', () => {
  it('computes the RFC 2617 example response (qop=auth)', () => {
    const challenge = parseDigestChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    )!;
    expect(challenge.qopAuth).toBe(true);
    const value = digestAuthorization(challenge, {
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nc: 1,
      cnonce: '0a4f113b',
    });
    expect(value).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(value).toContain('nc=00000001');
    expect(value).toContain('opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  });

  it('answers without qop, and refuses what it cannot answer', () => {
    const c = parseDigestChallenge('Digest realm="r", nonce="n"')!;
    expect(c.qopAuth).toBe(false);
    expect(
      digestAuthorization(c, {
        username: 'u',
        password: 'p',
        method: 'REGISTER',
        uri: 'sip:s',
        nc: 1,
      }),
    ).not.toContain('qop');
    expect(parseDigestChallenge('Basic realm="r"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=MD5-sess')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=SHA-256')?.algorithm).toBe(
      'SHA-256',
    );
  });
});
