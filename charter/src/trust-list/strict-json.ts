import { CharterError } from './errors.js';

/** A JSON value as this format allows it: integers only, no duplicate member names. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

const MAX_DEPTH = 32;

/**
 * Parses RFC 8259 JSON strictly, for signed metadata: a duplicate member name (which different
 * parsers resolve differently, so two verifiers could see two documents), a fraction or exponent,
 * an unsafe integer, a lone surrogate, nesting deeper than 32 or trailing data are all refused
 * with the byte offset. `JSON.parse` accepts all of these silently.
 */
export function parseStrictJson(text: string): JsonValue {
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.value(0);
  parser.skipWhitespace();
  if (!parser.atEnd()) parser.fail('unexpected data after the JSON document');
  return value;
}

class Parser {
  #pos = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  atEnd(): boolean {
    return this.#pos >= this.#text.length;
  }

  fail(what: string): never {
    if (this.atEnd()) {
      throw new CharterError(
        'malformed-json',
        `truncated JSON: input ends at offset ${this.#pos} (${what}); the file is incomplete`,
        String(this.#pos),
      );
    }
    throw new CharterError(
      'malformed-json',
      `malformed JSON at offset ${this.#pos}: ${what}`,
      String(this.#pos),
    );
  }

  skipWhitespace(): void {
    for (;;) {
      const c = this.#text.charCodeAt(this.#pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.#pos += 1;
      else return;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const c = this.#text[this.#pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(c === undefined ? 'expected a value' : `unexpected character`);
    }
  }

  literal<T extends JsonValue>(word: string, result: T): T {
    if (this.#text.startsWith(word, this.#pos)) {
      this.#pos += word.length;
      return result;
    }
    if (word.startsWith(this.#text.slice(this.#pos))) {
      this.#pos = this.#text.length;
    }
    return this.fail(`expected ${word}`);
  }

  number(): number {
    const start = this.#pos;
    if (this.#text[this.#pos] === '-') this.#pos += 1;
    const first = this.#text[this.#pos];
    if (first === '0') {
      this.#pos += 1;
    } else if (first !== undefined && first >= '1' && first <= '9') {
      while (this.#isDigit(this.#text[this.#pos])) this.#pos += 1;
    } else {
      this.fail('expected a digit');
    }
    const next = this.#text[this.#pos];
    if (next === '.' || next === 'e' || next === 'E') {
      throw new CharterError(
        'non-integer-number',
        `number at offset ${start} has a fraction or exponent; trust lists use integers only`,
        String(start),
      );
    }
    const text = this.#text.slice(start, this.#pos);
    const n = Number(text);
    if (!Number.isSafeInteger(n) || text === '-0') {
      throw new CharterError(
        'non-integer-number',
        `number at offset ${start} is not a safe integer (|n| <= 2^53-1, no -0)`,
        String(start),
      );
    }
    return n;
  }

  #isDigit(c: string | undefined): boolean {
    return c !== undefined && c >= '0' && c <= '9';
  }

  string(): string {
    this.#pos += 1; // opening quote
    let out = '';
    for (;;) {
      if (this.atEnd()) this.fail('unterminated string');
      const code = this.#text.charCodeAt(this.#pos);
      if (code === 0x22) {
        this.#pos += 1;
        return out;
      }
      if (code < 0x20) this.fail('control character in string (must be escaped)');
      if (code === 0x5c) {
        out += this.escape();
        continue;
      }
      if (code >= 0xd800 && code <= 0xdbff) {
        const low = this.#text.charCodeAt(this.#pos + 1);
        if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail('lone surrogate in string');
        out += this.#text.slice(this.#pos, this.#pos + 2);
        this.#pos += 2;
        continue;
      }
      if (code >= 0xdc00 && code <= 0xdfff) this.fail('lone surrogate in string');
      out += this.#text[this.#pos];
      this.#pos += 1;
    }
  }

  escape(): string {
    this.#pos += 1; // backslash
    const c = this.#text[this.#pos];
    this.#pos += 1;
    switch (c) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case '/':
        return '/';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'u': {
        const high = this.hex4();
        if (high >= 0xdc00 && high <= 0xdfff) this.fail('lone surrogate escape');
        if (high >= 0xd800 && high <= 0xdbff) {
          if (this.#text[this.#pos] !== '\\' || this.#text[this.#pos + 1] !== 'u') {
            this.fail('lone surrogate escape');
          }
          this.#pos += 2;
          const low = this.hex4();
          if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail('lone surrogate escape');
          return String.fromCharCode(high, low);
        }
        return String.fromCharCode(high);
      }
      default:
        this.#pos -= 1;
        return this.fail('invalid escape sequence');
    }
  }

  hex4(): number {
    const digits = this.#text.slice(this.#pos, this.#pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
      if (digits.length < 4) this.#pos = this.#text.length;
      this.fail('expected four hex digits');
    }
    this.#pos += 4;
    return parseInt(digits, 16);
  }

  array(depth: number): JsonValue[] {
    this.#pos += 1;
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.#text[this.#pos] === ']') {
      this.#pos += 1;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = this.#text[this.#pos];
      this.#pos += 1;
      if (c === ']') return out;
      if (c !== ',') {
        this.#pos -= 1;
        this.fail("expected ',' or ']'");
      }
    }
  }

  object(depth: number): { [key: string]: JsonValue } {
    this.#pos += 1;
    // Own enumerable data properties only, so "__proto__" is an ordinary (and then unknown) key.
    const out: { [key: string]: JsonValue } = {};
    const seen = new Set<string>();
    this.skipWhitespace();
    if (this.#text[this.#pos] === '}') {
      this.#pos += 1;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.#text[this.#pos] !== '"') this.fail('expected a member name');
      const keyAt = this.#pos;
      const key = this.string();
      if (seen.has(key)) {
        throw new CharterError(
          'malformed-json',
          `duplicate member name at offset ${keyAt}; signed JSON must not repeat a name`,
          String(keyAt),
        );
      }
      seen.add(key);
      this.skipWhitespace();
      if (this.#text[this.#pos] !== ':') this.fail("expected ':'");
      this.#pos += 1;
      this.skipWhitespace();
      const value = this.value(depth + 1);
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipWhitespace();
      const c = this.#text[this.#pos];
      this.#pos += 1;
      if (c === '}') return out;
      if (c !== ',') {
        this.#pos -= 1;
        this.fail("expected ',' or '}'");
      }
    }
  }
}
