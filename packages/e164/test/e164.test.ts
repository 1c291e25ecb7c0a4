import type { E164Number } from '../src/index.js';
import {
  DEFAULT_ENUM_APEX,
  E164Error,
  enumNameFor,
  enumNameOfParsed,
  isE164Error,
  normaliseApex,
  numberFromEnumName,
  parseE164,
} from '../src/index.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof E164Error) return err.code;
    throw err;
  }
  return 'no error';
}

describe('parseE164', () => {
  it.each([
    ['+442079460958', '+442079460958'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+1 (415) 555-2671', '+14155552671'],
    ['  +33.1.42.68.53.00 ', '+33142685300'],
    ['+4915123456789', '+4915123456789'],
  ])('normalises %j', (input, expected) => {
    expect(parseE164(input)).toBe(expected);
  });

  it.each([
    [undefined, 'not-a-string'],
    [4155552671, 'not-a-string'],
    ['004420 7946 0958', 'not-international'],
    ['020 7946 0958', 'not-international'],
    ['+44 20 7946 0958 ext 12', 'bad-characters'],
    ['+44207946O958', 'bad-characters'],
    ['+1', 'bad-length'],
    ['+0442079460958', 'bad-length'],
    ['+1234567890123456', 'bad-length'],
    ['+' + '1'.repeat(80), 'bad-length'],
    ['+4420', 'invalid-number'],
    ['+999123456789', 'invalid-number'],
    ['+', 'bad-length'],
  ])('refuses %j with %s', (input, code) => {
    expect(codeOf(() => parseE164(input))).toBe(code);
  });

  it('never repeats the input in its message', () => {
    for (const input of ['+4420', '+44207946O958', '0207946095', '+1234567890123456']) {
      try {
        parseE164(input);
        throw new Error('expected a refusal');
      } catch (err) {
        expect(isE164Error(err)).toBe(true);
        expect((err as Error).message).not.toContain(input.slice(1, 6));
      }
    }
  });
});

describe('ENUM names', () => {
  it('maps a number to its RFC 6116 name under the default apex', () => {
    expect(DEFAULT_ENUM_APEX).toBe('e164.switchboard.test.');
    expect(enumNameFor('+442079460958')).toBe('8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.');
  });

  it('matches the RFC 6116 section 2.4 example under e164.arpa', () => {
    // RFC 6116 uses +442079460148 -> 8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa.
    expect(enumNameFor('+442079460148', 'e164.arpa')).toBe('8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa.');
  });

  it('names parsed numbers the same way without checking the numbering plan again', () => {
    for (const n of ['+442079460958', '+14155552671', '+12']) {
      expect(enumNameOfParsed(n as E164Number, 'e164.arpa.')).toBe(
        n === '+12' ? '2.1.e164.arpa.' : enumNameFor(n, 'e164.arpa'),
      );
    }
    for (const bad of ['442079460958', '+0123', '+1', '+1234567890123456', '+12a4']) {
      expect(() => enumNameOfParsed(bad as E164Number, 'e164.arpa.')).toThrow(E164Error);
    }
  });

  it('round-trips, ignoring case and a missing trailing dot', () => {
    const name = enumNameFor('+14155552671', 'Dir.Example.');
    expect(name).toBe('1.7.6.2.5.5.5.5.1.4.1.dir.example.');
    expect(numberFromEnumName(name.toUpperCase().slice(0, -1), 'dir.example')).toBe('+14155552671');
  });

  it.each([
    ['1.7.6.2.5.5.5.5.1.4.1.other.test.', 'outside-apex'],
    ['e164.switchboard.test.', 'outside-apex'],
    ['1.e164.switchboard.test.', 'bad-enum-name'],
    ['17.6.2.5.5.5.5.1.4.1.e164.switchboard.test.', 'bad-enum-name'],
    ['a.7.6.2.5.5.5.5.1.4.1.e164.switchboard.test.', 'bad-enum-name'],
    ['1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.e164.switchboard.test.', 'bad-enum-name'],
    ['9.9.9.9.9.9.e164.switchboard.test.', 'invalid-number'],
  ])('refuses %s with %s', (name, code) => {
    expect(codeOf(() => numberFromEnumName(name))).toBe(code);
  });

  it('refuses a bad apex', () => {
    expect(codeOf(() => normaliseApex('.'))).toBe('bad-apex');
    expect(codeOf(() => normaliseApex('bad_label.test'))).toBe('bad-apex');
    expect(codeOf(() => enumNameFor('+442079460958', 'a..b'))).toBe('bad-apex');
  });
});
