// The one command-line parser of the bench CLIs: each bench declares its own options as a spec,
// and every bench gets the same `--rounds N`, `--keep` and `--no-save` (see bench/README.md).

/** How one option is read. Its flag is the property name in kebab case (`maxRate` -> `--max-rate`). */
export type OptionSpec =
  | {
      /** A number; `integer` refuses fractions. */
      readonly kind: 'number' | 'integer';
      readonly default: number;
      /** Smallest accepted value (default 0). */
      readonly min?: number;
      readonly max?: number;
    }
  /** A comma-separated list; undefined when not given. */
  | { readonly kind: 'list' }
  /** One non-empty string (a path); undefined when not given. */
  | { readonly kind: 'string' }
  /** A comma-separated list of numbers; undefined when not given. */
  | { readonly kind: 'number-list'; readonly min?: number; readonly max?: number }
  /** Present or not (`--keep`, `--no-sign`): false unless given. */
  | { readonly kind: 'flag' };

/** What a spec parses to. */
export type OptionValues<S extends Record<string, OptionSpec>> = {
  -readonly [K in keyof S]: S[K] extends { readonly kind: 'number' | 'integer' }
    ? number
    : S[K] extends { readonly kind: 'list' }
      ? string[] | undefined
      : S[K] extends { readonly kind: 'string' }
        ? string | undefined
        : S[K] extends { readonly kind: 'number-list' }
          ? number[] | undefined
          : boolean;
};

/** The options every bench accepts. */
export interface CommonOptions {
  /** `--rounds N`: repetitions (or slices) of the measurement, >= 1. */
  rounds: number;
  /** `--keep`: keep the temp dir with configs, logs and raw output. */
  keep: boolean;
  /** `--no-save`: print the table only; write no results file and leave results/README.md. */
  noSave: boolean;
}

/** `--max-rate` for `maxRate`. */
export function flagName(property: string): string {
  return `--${property.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function checkRange(flag: string, n: number, spec: { min?: number; max?: number }): number {
  const min = spec.min ?? 0;
  if (!Number.isFinite(n) || n < min) throw new Error(`${flag} must be a number >= ${min}`);
  if (spec.max !== undefined && n > spec.max) throw new Error(`${flag} must be <= ${spec.max}`);
  return n;
}

function parseValue(flag: string, spec: OptionSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'number':
    case 'integer': {
      const n = checkRange(flag, raw.trim() === '' ? NaN : Number(raw), spec);
      if (spec.kind === 'integer' && !Number.isInteger(n))
        throw new Error(`${flag} must be a whole number`);
      return n;
    }
    case 'list':
      return raw.split(',').filter((s) => s !== '');
    case 'string':
      if (raw === '') throw new Error(`${flag} needs a value`);
      return raw;
    case 'number-list':
      return raw.split(',').map((s) => checkRange(flag, s.trim() === '' ? NaN : Number(s), spec));
    case 'flag':
      return true;
  }
}

/**
 * Parses `argv` (without node and the script) by `spec` plus the common options; `defaultRounds`
 * is this bench's `--rounds` default. Throws on an unknown option, a missing value or a value out
 * of range, naming the option.
 *
 * @example
 *   const args = parseBenchOptions(process.argv.slice(2), {
 *     count: { kind: 'integer', default: 1000, min: 1 },
 *     noSign: { kind: 'flag' },
 *   });
 *   // `--count 500 --no-sign --rounds 3 --no-save`
 */
export function parseBenchOptions<S extends Record<string, OptionSpec>>(
  argv: readonly string[],
  spec: S,
  defaultRounds = 1,
): OptionValues<S> & CommonOptions {
  const all: Record<string, OptionSpec> = {
    ...spec,
    rounds: { kind: 'integer', default: defaultRounds, min: 1 },
    keep: { kind: 'flag' },
    noSave: { kind: 'flag' },
  };
  const byFlag = new Map(Object.keys(all).map((k) => [flagName(k), k]));
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(all)) {
    if (s.kind === 'number' || s.kind === 'integer') out[k] = s.default;
    else if (s.kind === 'flag') out[k] = false;
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    const key = byFlag.get(flag);
    const s = key === undefined ? undefined : all[key];
    if (key === undefined || s === undefined)
      throw new Error(`unknown option ${flag} (known: ${[...byFlag.keys()].join(' ')})`);
    if (s.kind === 'flag') {
      out[key] = true;
      continue;
    }
    const raw = argv[++i];
    if (raw === undefined) throw new Error(`${flag} needs a value`);
    out[key] = parseValue(flag, s, raw);
  }
  return out as OptionValues<S> & CommonOptions;
}
