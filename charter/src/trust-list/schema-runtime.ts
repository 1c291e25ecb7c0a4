// The two helpers ajv's generated validator calls (schema-validator.generated.ts), written here
// so the generated code imports nothing at run time.

/** String length in code points, as JSON Schema counts it (ajv's runtime/ucs2length). */
export function ucs2length(str: string): number {
  let length = 0;
  for (let pos = 0; pos < str.length; pos++) {
    length++;
    const value = str.charCodeAt(pos);
    if (value >= 0xd800 && value <= 0xdbff && pos + 1 < str.length) {
      if ((str.charCodeAt(pos + 1) & 0xfc00) === 0xdc00) pos++; // low surrogate
    }
  }
  return length;
}

/** Deep equality of JSON values (for `const`, `enum`, `uniqueItems`). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  return ka.every(
    (k) =>
      Object.prototype.hasOwnProperty.call(rb, k) &&
      jsonEqual((a as Record<string, unknown>)[k], rb[k]),
  );
}
