// The small subset of RFC 8941 structured fields that RFC 9421 signatures use:
// a dictionary whose members are inner lists of strings (Signature-Input) or byte sequences
// (Signature, Content-Digest), each with parameters that are strings or integers.

/** A parameter value: RFC 8941 sf-string or sf-integer. */
export type ParamValue = string | number;

/** One dictionary member. */
export type Member =
  | {
      readonly kind: 'inner-list';
      readonly items: readonly string[];
      readonly params: ReadonlyMap<string, ParamValue>;
    }
  | {
      readonly kind: 'bytes';
      readonly value: Uint8Array;
      readonly params: ReadonlyMap<string, ParamValue>;
    };

/** Raised for anything that is not well-formed in the subset we accept. */
export class StructuredFieldError extends Error {
  override readonly name = 'StructuredFieldError';
}

const KEY = /^[a-z*][a-z0-9_\-.*]*/;
const MAX_FIELD_LENGTH = 8192;

class Reader {
  pos = 0;
  constructor(readonly text: string) {}
  peek(): string | undefined {
    return this.text[this.pos];
  }
  expect(ch: string): void {
    if (this.text[this.pos] !== ch)
      throw new StructuredFieldError(`expected '${ch}' at ${this.pos}`);
    this.pos++;
  }
  skipSpaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }
  key(): string {
    const m = KEY.exec(this.text.slice(this.pos));
    if (!m) throw new StructuredFieldError(`expected a key at ${this.pos}`);
    this.pos += m[0].length;
    return m[0];
  }
  string(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      const ch = this.text[this.pos++];
      if (ch === undefined) throw new StructuredFieldError('unterminated string');
      if (ch === '"') return out;
      if (ch === '\\') {
        const next = this.text[this.pos++];
        if (next !== '"' && next !== '\\') throw new StructuredFieldError('bad escape in string');
        out += next;
      } else {
        const code = ch.charCodeAt(0);
        if (code < 0x20 || code > 0x7e)
          throw new StructuredFieldError('non-printable character in string');
        out += ch;
      }
    }
  }
  integer(): number {
    const m = /^-?\d{1,15}/.exec(this.text.slice(this.pos));
    if (!m) throw new StructuredFieldError(`expected an integer at ${this.pos}`);
    this.pos += m[0].length;
    return Number(m[0]);
  }
  bytes(): Uint8Array {
    this.expect(':');
    const end = this.text.indexOf(':', this.pos);
    if (end < 0) throw new StructuredFieldError('unterminated byte sequence');
    const b64 = this.text.slice(this.pos, end);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
      throw new StructuredFieldError('byte sequence is not base64');
    this.pos = end + 1;
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }
  params(): Map<string, ParamValue> {
    const params = new Map<string, ParamValue>();
    while (this.peek() === ';') {
      this.pos++;
      const key = this.key();
      let value: ParamValue = 1;
      if (this.peek() === '=') {
        this.pos++;
        value = this.peek() === '"' ? this.string() : this.integer();
      }
      if (params.has(key)) throw new StructuredFieldError(`duplicate parameter ${key}`);
      params.set(key, value);
    }
    return params;
  }
}

/** Parses a dictionary field. Duplicate member names are refused rather than last-wins. */
export function parseDictionary(text: string): ReadonlyMap<string, Member> {
  if (text.length > MAX_FIELD_LENGTH) throw new StructuredFieldError('field too long');
  const r = new Reader(text.trim());
  const out = new Map<string, Member>();
  while (r.pos < r.text.length) {
    const name = r.key();
    r.expect('=');
    let member: Member;
    if (r.peek() === '(') {
      r.pos++;
      const items: string[] = [];
      for (;;) {
        r.skipSpaces();
        if (r.peek() === ')') {
          r.pos++;
          break;
        }
        items.push(r.string());
        if (r.peek() !== ' ' && r.peek() !== ')')
          throw new StructuredFieldError(`bad inner list at ${r.pos}`);
      }
      member = { kind: 'inner-list', items, params: r.params() };
    } else if (r.peek() === ':') {
      member = { kind: 'bytes', value: r.bytes(), params: r.params() };
    } else {
      throw new StructuredFieldError(`unsupported member value at ${r.pos}`);
    }
    if (out.has(name)) throw new StructuredFieldError(`duplicate member ${name}`);
    out.set(name, member);
    r.skipSpaces();
    if (r.pos >= r.text.length) break;
    r.expect(',');
    r.skipSpaces();
  }
  return out;
}

/** Serialises an inner list of strings with parameters (RFC 8941 section 4.1.1.1). */
export function serializeInnerList(
  items: readonly string[],
  params: ReadonlyArray<readonly [string, ParamValue]>,
): string {
  const list = `(${items.map(serializeString).join(' ')})`;
  return (
    list +
    params
      .map(([k, v]) => `;${k}=${typeof v === 'number' ? String(v) : serializeString(v)}`)
      .join('')
  );
}

/** Serialises an sf-string, refusing characters RFC 8941 does not allow. */
export function serializeString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value))
    throw new StructuredFieldError('string has non-printable characters');
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
