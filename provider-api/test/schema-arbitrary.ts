import fc from 'fast-check';

type Schema = Record<string, unknown>;

const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

/** Resolves `#/components/schemas/X` and merges `allOf` into one schema (enough for our documents). */
function resolve(schema: Schema, components: Record<string, Schema>): Schema {
  let s = schema;
  while (typeof s['$ref'] === 'string') {
    const name = (s['$ref'] as string).replace('#/components/schemas/', '');
    const { $ref: _ref, ...rest } = s;
    s = { ...components[name], ...rest };
  }
  if (Array.isArray(s['allOf'])) {
    const { allOf, ...rest } = s;
    return (allOf as Schema[]).reduce<Schema>(
      (acc, part) => ({ ...acc, ...resolve(part, components) }),
      rest,
    );
  }
  return s;
}

function base64Of(minChars: number, maxChars: number): fc.Arbitrary<string> {
  const minBytes = Math.max(0, Math.floor((minChars * 3) / 4) - 2);
  const maxBytes = Math.max(minBytes, Math.floor((maxChars * 3) / 4));
  return fc
    .uint8Array({ minLength: minBytes, maxLength: Math.min(maxBytes, 256) })
    .map((b) => Buffer.from(b).toString('base64'))
    .filter((t) => t.length >= minChars && t.length <= maxChars);
}

/**
 * A fast-check arbitrary producing values that satisfy a JSON Schema (the subset the provider
 * document uses: $ref, allOf, oneOf, const, enum, objects, arrays, strings with pattern/format,
 * integers, booleans).
 */
export function arbitraryFor(
  schema: Schema,
  components: Record<string, Schema>,
  hints: Readonly<Record<string, fc.Arbitrary<unknown>>> = {},
): fc.Arbitrary<unknown> {
  // A hint (known-good values for a named schema) is mixed in so generated input also reaches
  // the deeper code paths (a real number, this provider's currency...).
  const ref =
    typeof schema['$ref'] === 'string' ? (schema['$ref'] as string).split('/').pop() : undefined;
  const hint = ref === undefined ? undefined : hints[ref];
  if (ref !== undefined && hint) {
    const { $ref: _ref, ...rest } = schema;
    return fc.oneof(hint, arbitraryFor({ ...components[ref], ...rest }, components, {}));
  }
  const recurse = (sub: Schema): fc.Arbitrary<unknown> => arbitraryFor(sub, components, hints);
  const s = resolve(schema, components);
  if ('const' in s) return fc.constant(s['const']);
  if (Array.isArray(s['enum'])) return fc.constantFrom(...(s['enum'] as unknown[]));
  if (Array.isArray(s['oneOf'])) {
    return fc.oneof(...(s['oneOf'] as Schema[]).map(recurse));
  }
  switch (s['type']) {
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = (s['minimum'] as number | undefined) ?? -1000;
      const max = (s['maximum'] as number | undefined) ?? 1_000_000;
      if (max <= 2 ** 31 - 1 && min >= -(2 ** 31)) return fc.integer({ min, max });
      return fc.oneof(fc.integer({ min, max: Math.min(max, 2 ** 31 - 1) }), fc.constant(max));
    }
    case 'array': {
      const item = recurse((s['items'] as Schema | undefined) ?? {});
      const minLength = (s['minItems'] as number | undefined) ?? 0;
      const maxLength = Math.min(
        (s['maxItems'] as number | undefined) ?? 4,
        Math.max(minLength, 4),
      );
      return s['uniqueItems']
        ? fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(item, { minLength, maxLength });
    }
    case 'object': {
      const props = (s['properties'] as Record<string, Schema> | undefined) ?? {};
      const required = (s['required'] as string[] | undefined) ?? [];
      const model = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, recurse(v)]));
      return fc.record(model, { requiredKeys: required.filter((k) => k in props) });
    }
    case 'string':
    default: {
      const minLength = (s['minLength'] as number | undefined) ?? 0;
      const maxLength = (s['maxLength'] as number | undefined) ?? 64;
      const pattern = s['pattern'] as string | undefined;
      if (s['format'] === 'uuid') return fc.uuid().map((u) => u.toLowerCase());
      if (pattern === BASE64_PATTERN) return base64Of(minLength, maxLength);
      const repeated = pattern === undefined ? undefined : classRepetition(pattern);
      if (repeated) {
        // `^[class]+$` with a length range: draw the length, not a string filtered to it
        // (stringMatching yields short strings; a filter for 16+ characters never ends).
        return fc.string({
          unit: fc.constantFrom(...repeated),
          minLength: Math.max(minLength, 1),
          maxLength: Math.min(maxLength, Math.max(minLength, 64)),
        });
      }
      if (pattern) {
        return fc
          .stringMatching(new RegExp(pattern))
          .filter((t) => t.length >= minLength && t.length <= maxLength);
      }
      return fc.string({ minLength, maxLength: Math.min(maxLength, 48) });
    }
  }
}

/** The characters of a `^[...]+$` (or `*`) pattern, its ranges expanded; else undefined. */
function classRepetition(pattern: string): string[] | undefined {
  const m = /^\^\[([^\]\\]+)\][+*]\$$/.exec(pattern);
  if (!m) return undefined;
  const spec = m[1] as string;
  const chars: string[] = [];
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      for (let code = c.charCodeAt(0); code <= spec.charCodeAt(i + 2); code++) {
        chars.push(String.fromCharCode(code));
      }
      i += 2;
    } else chars.push(c);
  }
  return chars;
}
