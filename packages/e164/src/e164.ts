import { parsePhoneNumberWithError, ParseError } from 'libphonenumber-js/max';

/** An E.164 number in canonical form: `+` followed by 2 to 15 digits, country code first. */
export type E164Number = string & { readonly __brand: 'E164Number' };

/** The private ENUM tree's default apex (DESIGN.md "The directory on the wire"). */
export const DEFAULT_ENUM_APEX = 'e164.switchboard.test.';

/** Why an input was refused. */
export type E164ErrorCode =
  | 'not-a-string'
  | 'not-international'
  | 'bad-characters'
  | 'bad-length'
  | 'invalid-number'
  | 'bad-apex'
  | 'outside-apex'
  | 'bad-enum-name';

/**
 * The one error this package throws. Messages say what was wrong and what to do, and never
 * contain the input (numbers are personal data; STYLE.md habit 5).
 */
export class E164Error extends Error {
  override readonly name = 'E164Error';
  readonly code: E164ErrorCode;

  constructor(code: E164ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True when `err` is an {@link E164Error}, optionally with the given code. */
export function isE164Error(err: unknown, code?: E164ErrorCode): err is E164Error {
  return err instanceof E164Error && (code === undefined || err.code === code);
}

// Visual separators people type inside international numbers (ITU-T E.123).
const SEPARATORS = /[\s\-.()\u00a0]/g;
const MAX_INPUT = 64;

/**
 * Parses an international number and returns its canonical E.164 form. Accepts a leading `+`
 * followed by digits, with optional spaces, hyphens, dots or parentheses; refuses national
 * formats, letters, extensions and numbers that no numbering plan assigns (libphonenumber's
 * full metadata).
 *
 * @example
 * parseE164('+44 20 7946 0958'); // '+442079460958'
 */
export function parseE164(input: unknown): E164Number {
  if (typeof input !== 'string') {
    throw new E164Error('not-a-string', 'phone number must be a string in E.164 form (+<digits>)');
  }
  if (input.length > MAX_INPUT) {
    throw new E164Error('bad-length', 'phone number is too long: E.164 allows at most 15 digits');
  }
  const compact = input.trim().replace(SEPARATORS, '');
  if (!compact.startsWith('+')) {
    throw new E164Error(
      'not-international',
      'phone number must be in international form starting with + and the country code',
    );
  }
  const digits = compact.slice(1);
  if (!/^[0-9]*$/.test(digits)) {
    throw new E164Error(
      'bad-characters',
      'phone number may contain only digits after the + (no letters or extensions)',
    );
  }
  if (digits.length < 2 || digits.length > 15 || digits.startsWith('0')) {
    throw new E164Error(
      'bad-length',
      'phone number must have a country code and 2 to 15 digits in total (E.164)',
    );
  }
  let valid = false;
  try {
    const parsed = parsePhoneNumberWithError(compact);
    valid = parsed.isValid() && parsed.number === compact;
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
  }
  if (!valid) {
    throw new E164Error(
      'invalid-number',
      'phone number is not a valid number in its country numbering plan',
    );
  }
  return compact as E164Number;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Canonical form of an ENUM apex: lower case, absolute (trailing dot), syntactically valid
 * host name labels. The root apex is refused: a private ENUM tree always has one.
 */
export function normaliseApex(apex: string): string {
  const lower = apex.trim().toLowerCase();
  const absolute = lower.endsWith('.') ? lower : `${lower}.`;
  const labels = absolute.slice(0, -1).split('.');
  if (absolute.length > 200 || absolute === '.' || !labels.every((l) => LABEL.test(l))) {
    throw new E164Error(
      'bad-apex',
      'ENUM apex must be a domain name such as e164.switchboard.test. (letters, digits, hyphens)',
    );
  }
  return absolute;
}

/**
 * The ENUM domain name of a number (RFC 6116 section 2.4): digits reversed, dot-separated,
 * under `apex`. The result is absolute and lower case.
 *
 * @example
 * enumNameFor('+442079460958'); // '8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.'
 */
export function enumNameFor(number: string, apex: string = DEFAULT_ENUM_APEX): string {
  const e164 = parseE164(number);
  return `${[...e164.slice(1)].reverse().join('.')}.${normaliseApex(apex)}`;
}

/**
 * {@link enumNameFor} for a number {@link parseE164} has already accepted and an apex
 * {@link normaliseApex} has already returned, as a directory holds them: only the shape is
 * checked, not the numbering plan again, so that naming a whole zone of numbers is cheap.
 */
export function enumNameOfParsed(number: E164Number, apex: string): string {
  if (!/^\+[1-9][0-9]{1,14}$/.test(number)) {
    throw new E164Error('bad-length', 'not a number parseE164 returned');
  }
  let name = '';
  for (let i = number.length - 1; i >= 1; i--) name += `${number[i]}.`;
  return name + apex;
}

/**
 * The number an ENUM domain name stands for (the inverse of {@link enumNameFor}). Refuses
 * names outside `apex`, labels that are not single digits, and digit strings that are not a
 * valid E.164 number.
 */
export function numberFromEnumName(name: string, apex: string = DEFAULT_ENUM_APEX): E164Number {
  const zone = normaliseApex(apex);
  const lower = name.trim().toLowerCase();
  const absolute = lower.endsWith('.') ? lower : `${lower}.`;
  const suffix = `.${zone}`;
  if (!absolute.endsWith(suffix)) {
    throw new E164Error('outside-apex', `name is not below the ENUM apex ${zone}`);
  }
  const labels = absolute.slice(0, -suffix.length).split('.');
  if (labels.length < 2 || labels.length > 15 || !labels.every((l) => /^[0-9]$/.test(l))) {
    throw new E164Error(
      'bad-enum-name',
      'ENUM name must be 2 to 15 single-digit labels above the apex (RFC 6116 section 2.4)',
    );
  }
  return parseE164(`+${labels.reverse().join('')}`);
}
