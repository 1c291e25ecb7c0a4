/**
 * How deeply a JSON request body may nest. Every Switchboard contract is a few levels deep; the
 * limit only has to keep recursive consumers (schema validation, serialisers) far from the
 * stack's end: `[` x 100,000 parses (V8's JSON.parse does not recurse) and then overflows the
 * validator.
 */
export const MAX_JSON_DEPTH = 64;

/** A JSON text nested deeper than allowed; `expose`: its message is safe to show the client. */
export class JsonDepthError extends SyntaxError {
  override readonly name = 'JsonDepthError';
  readonly expose = true;
  constructor(readonly maxDepth: number) {
    super(`the JSON body is nested deeper than ${maxDepth} levels`);
  }
}

const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the brackets of `text` (outside strings) nest deeper than `maxDepth`. One linear pass
 * without allocation; it does not check that `text` is JSON (JSON.parse does that).
 */
export function jsonTextTooDeep(text: string, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  return false;
}

/**
 * `JSON.parse` for request bodies: throws {@link JsonDepthError} for a text nested deeper than
 * `maxDepth` (before parsing it) and `SyntaxError` for one that is not JSON.
 *
 * @example
 * const body = parseJsonBody(raw.toString('utf8')); // '[[[...' x 1000 -> JsonDepthError
 */
export function parseJsonBody(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (jsonTextTooDeep(text, maxDepth)) throw new JsonDepthError(maxDepth);
  return JSON.parse(text) as unknown;
}
