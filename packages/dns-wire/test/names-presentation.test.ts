import {
  DnsWireError,
  RRType,
  canonicalName,
  canonicalRdata,
  canonicalRrset,
  compareCanonicalNames,
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
});
