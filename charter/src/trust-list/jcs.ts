import { CharterError } from './errors.js';

// In /u mode a surrogate pair is one code point, so this matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * RFC 8785 JSON Canonicalization Scheme, for the integer-only values of this format.
 *
 * - Object members sorted by their names as UTF-16 code units (section 3.2.3), which is what
 *   JavaScript's default string comparison does.
 * - Strings serialised as ECMAScript JSON.stringify does (section 3.2.2.2); lone surrogates are
 *   refused, as JCS requires well-formed Unicode.
 * - Numbers: only safe integers, printed in decimal without exponent, which is exactly the
 *   ECMAScript Number-to-String result for them (section 3.2.2.3). Anything else is refused
 *   rather than risk two signers producing different bytes.
 * - No whitespace.
 *
 * @example canonicalize({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalize(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, '', 0);
  return parts.join('');
}

/** {@link canonicalize} as UTF-8 bytes: what board members sign. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

function write(value: unknown, out: string[], pointer: string, depth: number): void {
  if (depth > 64) {
    throw new CharterError('schema-violation', 'value nested too deeply to canonicalise', pointer);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
        throw new CharterError(
          'non-integer-number',
          `value at ${pointer || '/'} is not a safe integer; this format has integers only`,
          pointer,
        );
      }
      out.push(String(value));
      return;
    case 'string':
      if (LONE_SURROGATE.test(value)) {
        throw new CharterError(
          'schema-violation',
          `string at ${pointer || '/'} is not well-formed Unicode`,
          pointer,
        );
      }
      out.push(JSON.stringify(value));
      return;
    case 'object': {
      if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item: unknown, i) => {
          if (i > 0) out.push(',');
          write(item, out, `${pointer}/${i}`, depth + 1);
        });
        out.push(']');
        return;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CharterError(
          'schema-violation',
          `value at ${pointer || '/'} is not a plain JSON object`,
          pointer,
        );
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      out.push('{');
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue; // as JSON.stringify: absent, not null
        if (!first) out.push(',');
        first = false;
        write(key, out, pointer, depth + 1);
        out.push(':');
        write(member, out, `${pointer}/${escapePointer(key)}`, depth + 1);
      }
      out.push('}');
      return;
    }
    default:
      throw new CharterError(
        'schema-violation',
        `value at ${pointer || '/'} (${typeof value}) has no JSON form`,
        pointer,
      );
  }
}

/** RFC 6901 section 3 escaping of one reference token. */
export function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
