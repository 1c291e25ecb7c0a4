import { JsonDepthError, MAX_JSON_DEPTH, jsonTextTooDeep, parseJsonBody } from '../src/index.js';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('parseJsonBody', () => {
  it('parses JSON up to the depth limit and refuses one level more before parsing', () => {
    expect(parseJsonBody(nested(MAX_JSON_DEPTH))).toBeInstanceOf(Array);
    expect(() => parseJsonBody(nested(MAX_JSON_DEPTH + 1))).toThrow(JsonDepthError);
    // What broke the validators: parses fine, then overflows any recursive walk.
    expect(() => parseJsonBody('['.repeat(100_000))).toThrow(/nested deeper than 64 levels/);
    expect(() => parseJsonBody('{"a":'.repeat(100_000))).toThrow(JsonDepthError);
  });

  it('counts objects and arrays alike and ignores brackets inside strings', () => {
    expect(parseJsonBody('{"a":[{"b":"[[[[{{{{"}]}', 3)).toEqual({ a: [{ b: '[[[[{{{{' }] });
    expect(parseJsonBody('["\\"[[[["]', 1)).toEqual(['"[[[[']);
    expect(() => parseJsonBody('{"a":[{"b":1}]}', 2)).toThrow(JsonDepthError);
    expect(jsonTextTooDeep('{"a":{}} {"b":{}}', 2)).toBe(false);
  });

  it('leaves malformed JSON to JSON.parse (a SyntaxError that is not a depth error)', () => {
    let caught: unknown;
    try {
      parseJsonBody('{"a":');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SyntaxError);
    expect(caught).not.toBeInstanceOf(JsonDepthError);
    expect(new JsonDepthError(3).expose).toBe(true);
  });
});
