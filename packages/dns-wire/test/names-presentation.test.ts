import {
  DnsWireError,
  RRType,
  canonicalName,
  canonicalRdata,
  canonicalRrset,
  compareCanonicalNames,
  formatRecord,
  isSubdomainOf,
  labelCount,
  namesEqual,
  parseRecord,
  parseZone,
  toHex,
  typeFromString,
  typeToString,
} from '../src/index.js';
import type { ResourceRecord } from '../src/index.js';

describe('names', () => {
  it('sorts in RFC 4034 6.1 canonical order (the RFC example)', () => {
    const ordered = [
      'example.',
      'a.example.',
      'yljkjljk.a.example.',
      'Z.a.example.',
      'zABC.a.EXAMPLE.',
      'z.example.',
      '\\001.z.example.',
      '*.z.example.',
      '\\200.z.example.',
    ];
    const shuffled = [...ordered].reverse();
    expect(shuffled.sort(compareCanonicalNames)).toEqual(ordered);
  });

  it('compares, lowercases, counts labels', () => {
    expect(namesEqual('WWW.Example', 'www.example.')).toBe(true);
    expect(canonicalName('WWW.Example')).toBe('www.example.');
    expect(isSubdomainOf('a.B.example.', 'b.EXAMPLE')).toBe(true);
    expect(isSubdomainOf('ab.example.', 'b.example.')).toBe(false);
    expect(labelCount('*.a.example.')).toBe(2);
    expect(labelCount('.')).toBe(0);
  });
});

describe('canonical rdata (RFC 4034 6.2, RFC 6840 5.1)', () => {
  const rr = (type: number, data: unknown): ResourceRecord =>
    ({ name: 'x.', type, class: 1, ttl: 1, data }) as ResourceRecord;
  it('lowercases names in NS/MX/NAPTR/RRSIG rdata but not NSEC next name', () => {
    expect(toHex(canonicalRdata(rr(RRType.NS, { target: 'A.B.' })))).toBe('0161016200');
    expect(toHex(canonicalRdata(rr(RRType.MX, { preference: 1, exchange: 'A.' })))).toBe(
      '0001016100',
    );
    expect(
      toHex(
        canonicalRdata(
          rr(RRType.NAPTR, {
            order: 0,
            preference: 0,
            flags: 'U',
            services: '',
            regexp: '',
            replacement: 'A.',
          }),
        ),
      ),
    ).toBe('00000000015500000161' + '00');
    expect(toHex(canonicalRdata(rr(RRType.NSEC, { nextDomainName: 'A.', types: [1] })))).toBe(
      '014100000140',
    );
  });

  it('orders an RRset by canonical rdata and drops duplicates', () => {
    const set = [
      rr(RRType.A, { address: '192.0.2.2' }),
      rr(RRType.A, { address: '192.0.2.1' }),
      rr(RRType.A, { address: '192.0.2.2' }),
    ];
    expect(canonicalRrset(set).map((r) => (r.data as { address: string }).address)).toEqual([
      '192.0.2.1',
      '192.0.2.2',
    ]);
  });
});

describe('zone-file parsing', () => {
  it('handles $ORIGIN, $TTL, @, relative and omitted owners, parentheses, units, comments', () => {
    const records = parseZone(
      [
        '$ORIGIN example.',
        '$TTL 1h',
        '@ IN SOA ns1 host.master ( 1 ; serial',
        '   2h 1h 2w 5m )',
        '  IN 600 NS ns1.example.',
        'ns1 A 192.0.2.1 ; comment',
        '$ORIGIN sub.example.',
        'x CH TXT "a b" c "\\"q\\" \\059"',
      ].join('\n'),
    );
    expect(records.map((r) => [r.name, r.ttl, r.class, typeToString(r.type)])).toEqual([
      ['example.', 3600, 1, 'SOA'],
      ['example.', 600, 1, 'NS'],
      ['ns1.example.', 3600, 1, 'A'],
      ['x.sub.example.', 3600, 3, 'TXT'],
    ]);
    expect(records[0]?.data).toMatchObject({
      rname: 'host.master.example.',
      refresh: 7200,
      expire: 1209600,
      minimum: 300,
    });
    const txt = records[3]?.data as { texts: Uint8Array[] };
    expect(txt.texts.map((t) => new TextDecoder().decode(t))).toEqual(['a b', 'c', '"q" ;']);
  });

  it('reads RFC 3597 generic rdata for known and unknown types', () => {
    expect(parseRecord('a. 1 IN A \\# 4 C0000201').data).toEqual({ address: '192.0.2.1' });
    expect(parseRecord('a. 1 IN TYPE65280 \\# 2 ABCD').data).toEqual({
      raw: Uint8Array.from([0xab, 0xcd]),
    });
    expect(typeFromString('type35')).toBe(RRType.NAPTR);
  });

  it.each([
    ['a. 1 IN A 300.1.1.1', 1],
    ['a. 1 IN NOPE 1', 1],
    ['\n\na. 1 IN MX 10', 3],
    ['$INCLUDE /etc/passwd', 1],
    ['a. 1 IN TXT "unterminated', 1],
    ['a. 1 IN A 1.2.3.4 extra', 1],
    ['  1 IN A 1.2.3.4', 1],
  ])('%j is a bad-syntax error at line %i', (text, line) => {
    try {
      parseZone(text);
      throw new Error('parsed');
    } catch (err) {
      expect(err).toBeInstanceOf(DnsWireError);
      expect(err).toMatchObject({ code: 'bad-syntax', offset: line });
    }
  });

  it('resolves owners and rdata names the same whether they are plain, escaped or relative', () => {
    const records = parseZone(
      [
        '$ORIGIN Example.',
        'www 60 IN CNAME a\\.b', // escaped dot: one label
        'www 60 IN NS \\097b.', // \097 = a
        'x\\@y 60 IN NS x@y.example.', // @ inside a name is escaped in normal form
        '$ORIGIN other.',
        'www 60 IN NS host', // same owner text, new origin
        '   60 IN NS @',
        '. 60 IN NS .',
        'A.B.C. 60 IN PTR *.d.',
      ].join('\n'),
    );
    expect(records.map((r) => [r.name, (r.data as { target: string }).target])).toEqual([
      ['www.Example.', 'a\\.b.Example.'],
      ['www.Example.', 'ab.'],
      ['x\\@y.Example.', 'x\\@y.example.'],
      ['www.other.', 'host.other.'],
      ['www.other.', 'other.'],
      ['.', '.'],
      ['A.B.C.', '*.d.'],
    ]);
  });

  it.each([
    [`${'a'.repeat(64)}.example. 1 IN A 192.0.2.1`, 'label over 63 octets'],
    [`${'abcdefg.'.repeat(32)} 1 IN A 192.0.2.1`, 'name over 255 octets'],
    ['a..example. 1 IN A 192.0.2.1', 'empty label'],
    ['.a.example. 1 IN A 192.0.2.1', 'leading dot'],
  ])('refuses %j (%s) as bad syntax', (line) => {
    expect(() => parseZone(`a. 1 IN A 192.0.2.9\n${line}`)).toThrow(
      expect.objectContaining({ code: 'bad-syntax', offset: 2 }) as Error,
    );
  });

  it('reads TTL units and tells TTLs, classes and types apart', () => {
    const ttls = ['1h30m', '2W', '1d', '0', '4294967295'].map(
      (ttl) => parseRecord(`a. ${ttl} IN A 192.0.2.1`).ttl,
    );
    expect(ttls).toEqual([5400, 1209600, 86400, 0, 4294967295]);
    // Not TTLs: a trailing number without unit, an empty unit, too large.
    for (const bad of ['1h30', 'h', '4294967296', '1x'])
      expect(() => parseRecord(`a. ${bad} IN A 192.0.2.1`)).toThrow(DnsWireError);
    const rr = parseRecord('a. IN 1m A 192.0.2.1', { defaultTtl: 7 });
    expect([rr.ttl, rr.class]).toEqual([60, 1]);
  });

  it('decodes NAPTR and TXT character-strings: plain, escaped and non-ASCII alike', () => {
    const naptr = parseRecord('a. 1 IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:caf\\195\\169@x!" .')
      .data as { regexp: string; services: string };
    expect(naptr.regexp).toBe('!^.*$!sip:café@x!');
    expect(naptr.services).toBe('E2U+sip');
    const direct = parseRecord('a. 1 IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:café@x!" .').data;
    expect(direct).toEqual(naptr);
    const txt = parseRecord('a. 1 IN TXT "tab\there" plain "\\"" "é"').data as {
      texts: Uint8Array[];
    };
    expect(txt.texts.map((t) => Buffer.from(t).toString('hex'))).toEqual([
      Buffer.from('tab\there').toString('hex'),
      Buffer.from('plain').toString('hex'),
      '22',
      'c3a9',
    ]);
    expect(() => parseRecord(`a. 1 IN TXT "${'x'.repeat(256)}"`)).toThrow(DnsWireError);
    expect(() => parseRecord(`a. 1 IN NAPTR 1 1 "u" "${'x'.repeat(256)}" "" .`)).toThrow(
      DnsWireError,
    );
  });

  it('counts lines through parentheses, quoted newlines and escaped newlines', () => {
    const text = [
      'a. 1 IN TXT ( "one"', // 1
      '  "two" )', // 2
      'b. 1 IN TXT "multi', // 3
      'line"', // 4
      'c. 1 IN TXT x\\', // 5: escaped newline, part of the token
      'y', // 6
      'd. 1 IN A 192.0.2.300', // 7
    ].join('\n');
    expect(() => parseZone(text)).toThrow(
      expect.objectContaining({ code: 'bad-syntax', offset: 7 }) as Error,
    );
  });

  it('reports the first bad line of a large zone, and reads the zone it formats back', () => {
    const lines = ['$ORIGIN example.', '$TTL 300', '@ SOA ns hostmaster 1 2 3 4 5'];
    for (let i = 0; i < 2000; i++)
      lines.push(
        `${i % 10}.${i}.n NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:u${i}@x!" .`,
        `  TXT "v=sbkey1; k=${i}"`,
      );
    const records = parseZone(lines.join('\n'));
    expect(records).toHaveLength(4001);
    expect(records[4000]?.name).toBe('9.1999.n.example.');
    expect(parseZone(records.map(formatRecord).join('\n'))).toEqual(records);
    lines.splice(3000, 0, 'bad 1 IN A 1.2.3');
    expect(() => parseZone(lines.join('\n'))).toThrow(
      expect.objectContaining({ code: 'bad-syntax', offset: 3001 }) as Error,
    );
  });

  it('formats RRSIG times as YYYYMMDDHHmmSS (UTC) across leap years and the 32-bit range', () => {
    const times = [0, 59, 86399, 951782400, 951868800, 1709164800, 4102444799, 4294967295];
    for (let t = 0; t < 4294967295; t += 7777777) times.push(t);
    for (const t of times) {
      const text = formatRecord({
        name: 'a.',
        type: RRType.RRSIG,
        class: 1,
        ttl: 1,
        data: {
          typeCovered: 1,
          algorithm: 13,
          labels: 1,
          originalTtl: 1,
          expiration: t,
          inception: 0,
          keyTag: 1,
          signerName: 'a.',
          signature: new Uint8Array(64),
        },
      });
      const want = new Date(t * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      expect(text).toContain(` ${want} 19700101000000 `);
    }
  });
});
