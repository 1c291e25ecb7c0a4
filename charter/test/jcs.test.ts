import { CharterError, canonicalize, parseStrictJson } from '../src/index.js';

describe('canonicalize (RFC 8785)', () => {
  test('sorts member names by UTF-16 code units (RFC 8785 section 3.2.3 example)', () => {
    const input = parseStrictJson(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
        '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    );
    // Compare text: Object.keys would put "1" first whatever the serialisation order.
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    const positions = order.map((k) => canonicalize(input).indexOf(`${JSON.stringify(k)}:`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  test('escapes strings as RFC 8785 section 3.2.2.2 shows', () => {
    const value = parseStrictJson('"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/"');
    expect(canonicalize(value)).toBe('"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"');
  });

  test('removes whitespace and keeps array order', () => {
    expect(
      canonicalize(
        parseStrictJson(' { "b" : [ 3 , 1 , 2 ] ,\n "a" : { "d" : null , "c" : true } } '),
      ),
    ).toBe('{"a":{"c":true,"d":null},"b":[3,1,2]}');
  });

  test('integers print without exponent up to 2^53-1', () => {
    expect(canonicalize([0, -1, 9007199254740991, -9007199254740991])).toBe(
      '[0,-1,9007199254740991,-9007199254740991]',
    );
  });

  test('refuses floats, unsafe integers, -0, NaN and non-JSON values', () => {
    for (const bad of [1.5, 2 ** 53, -0, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => canonicalize({ x: bad })).toThrow(
        expect.objectContaining({ code: 'non-integer-number', where: '/x' }) as Error,
      );
    }
    expect(() => canonicalize({ f: () => 1 })).toThrow(CharterError);
    expect(() => canonicalize(new Date())).toThrow(CharterError);
    expect(() => canonicalize('\ud800')).toThrow(CharterError);
  });

  test('undefined members are absent, as in JSON.stringify', () => {
    expect(canonicalize({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});

describe('parseStrictJson', () => {
  const code = (text: string): string => {
    try {
      parseStrictJson(text);
    } catch (err) {
      if (CharterError.is(err)) return err.code;
      throw err;
    }
    return 'ok';
  };

  test('accepts RFC 8259 JSON with integers', () => {
    expect(parseStrictJson('{"a":[1,-2,0,"x\\u00e9",true,false,null,{}]}')).toEqual({
      a: [1, -2, 0, 'xé', true, false, null, {}],
    });
  });

  test.each([
    ['{"a":1,"a":2}', 'malformed-json'],
    ['{"a":1}x', 'malformed-json'],
    ['{"a":01}', 'malformed-json'],
    ['{"a":1.0}', 'non-integer-number'],
    ['{"a":1e3}', 'non-integer-number'],
    ['{"a":-0}', 'non-integer-number'],
    ['{"a":9007199254740992}', 'non-integer-number'],
    ['{"a":"\\ud800"}', 'malformed-json'],
    ['{"a":"\\x"}', 'malformed-json'],
    ['{"a":"tab\there"}', 'malformed-json'],
    ["{'a':1}", 'malformed-json'],
    ['[1,]', 'malformed-json'],
    ['{"a":1,}', 'malformed-json'],
    ['tru', 'malformed-json'],
    ['', 'malformed-json'],
    ['['.repeat(40) + ']'.repeat(40), 'malformed-json'],
  ])('%j is refused (%s)', (text, expected) => {
    expect(code(text)).toBe(expected);
  });

  test('"__proto__" is an ordinary member, never a prototype', () => {
    const value = parseStrictJson('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('the error gives the offset', () => {
    expect(() => parseStrictJson('{"a": tx}')).toThrow(
      expect.objectContaining({ where: '6' }) as Error,
    );
  });
});
