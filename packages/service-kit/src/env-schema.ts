// One schema per service environment: each variable has a kind (check + conversion) and an
// optional default; a JSON config file of the same variables may stand under the environment.
// The provider and the directory read their variables through this (docs/decisions.md).
import { readFileSync } from 'node:fs';

/** Checks and converts one variable's text; throws an Error whose message is the reason. */
export type EnvKind<T = unknown> = (value: string) => T;

/** One entry per variable: its kind and its default (none: unset stays unset). */
export interface EnvVariable<T = unknown> {
  readonly kind: EnvKind<T>;
  readonly default?: string;
}

/** A service's variables by name. */
export type EnvSchema = Readonly<Record<string, EnvVariable>>;

/** What a schema parses to: the converted value of each variable, undefined when unset. */
export type EnvValues<S extends EnvSchema> = {
  readonly [K in keyof S]: S[K] extends { readonly default: string }
    ? ReturnType<S[K]['kind']>
    : ReturnType<S[K]['kind']> | undefined;
};

/** A configuration value a service refuses at start-up; the message names the key, never the value. */
export class EnvConfigError extends Error {
  constructor(
    /** The variable (or config file key) at fault. */
    readonly key: string,
    /** Why, e.g. `must be a port number (an integer 0-65535)`. */
    readonly reason: string,
    /** Names the service in the message: `<service> config KEY reason`. */
    service: string,
  ) {
    super(`${service} config ${key} ${reason}`);
    this.name = 'EnvConfigError';
  }
}

/** pino's levels, accepted by `LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The usual kinds of variable. */
export const envKinds = {
  /** Any non-empty text. */
  text: ((v) => {
    if (v.trim() === '') throw new Error('must not be empty');
    return v;
  }) as EnvKind<string>,
  port: ((v) => {
    if (!/^\d{1,5}$/.test(v.trim()) || Number(v) > 65535)
      throw new Error('must be a port number (an integer 0-65535)');
    return Number(v);
  }) as EnvKind<number>,
  /** A whole number in `[min, max]`. */
  integer:
    (min: number, max = Number.MAX_SAFE_INTEGER): EnvKind<number> =>
    (v) => {
      const n = /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max)
        throw new Error(
          max === Number.MAX_SAFE_INTEGER
            ? `must be a whole number >= ${min}`
            : `must be a whole number ${min}-${max}`,
        );
      return n;
    },
  httpUrl: ((v) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      throw new Error('must be an absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error('must be an http:// or https:// URL');
    return v;
  }) as EnvKind<string>,
  /** A `DATABASE_URL` as `@switchboard/db` opens it. */
  databaseUrl: ((v) => {
    if (!/^(sqlite:|file:|postgres(ql)?:\/\/)/i.test(v.trim()))
      throw new Error('must start with sqlite:, file:, postgres:// or postgresql://');
    return v;
  }) as EnvKind<string>,
  boolean: ((v) => {
    if (/^(1|true)$/i.test(v.trim())) return true;
    if (/^(0|false)$/i.test(v.trim())) return false;
    throw new Error('must be a boolean (1, 0, true or false)');
  }) as EnvKind<boolean>,
  enumOf:
    <T extends string>(values: readonly T[], note = ''): EnvKind<T> =>
    (v) => {
      const found = values.find((x) => x === v);
      if (found === undefined) throw new Error(`must be one of ${values.join(', ')}${note}`);
      return found;
    },
  pattern:
    (re: RegExp, what: string): EnvKind<string> =>
    (v) => {
      if (!re.test(v)) throw new Error(`must be ${what}`);
      return v;
    },
  /** A comma-separated list, items trimmed, empty items dropped, each converted by `item`. */
  list:
    <T = string>(item: (s: string) => T = (s) => s as T): EnvKind<T[]> =>
    (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .map(item),
};

/** How {@link readEnvSchema} reads a service's variables. */
export interface EnvReadOptions {
  /** `provider`, `directory`: names the service in errors. */
  readonly service: string;
  /**
   * The variable naming an optional JSON file of the same variables (strings, numbers or
   * booleans), checked by the same schema, unknown keys refused; the environment overrides it.
   */
  readonly configFileVariable?: string;
  /** The service's own error class (a subclass); default {@link EnvConfigError}. */
  readonly error?: (key: string, reason: string) => EnvConfigError;
}

function failWith(options: EnvReadOptions): (key: string, reason: string) => EnvConfigError {
  return options.error ?? ((key, reason) => new EnvConfigError(key, reason, options.service));
}

function readConfigFile(
  schema: EnvSchema,
  path: string | undefined,
  options: EnvReadOptions,
): Record<string, string> {
  const fileKey = options.configFileVariable ?? '';
  const fail = failWith(options);
  if (path === undefined || path === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw fail(fileKey, 'names a file that is missing or not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw fail(fileKey, 'must hold a JSON object');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!Object.hasOwn(schema, key))
      throw fail(key, `is not a ${options.service} variable (in ${fileKey})`);
    if (!['string', 'number', 'boolean'].includes(typeof value))
      throw fail(key, `must be a string, number or boolean (in ${fileKey})`);
    out[key] = String(value);
  }
  return out;
}

/**
 * Checks every variable of `schema` in `env` (over the config file, when the schema's service
 * has one): an empty value counts as unset (as `FOO=` in an env file means), unset takes the
 * default. Throws {@link EnvConfigError} naming the first wrong variable and the reason.
 */
export function readEnvSchema<S extends EnvSchema>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
  options: EnvReadOptions,
): EnvValues<S> {
  const fileVar = options.configFileVariable;
  const merged = fileVar ? { ...readConfigFile(schema, env[fileVar], options), ...env } : env;
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const given = merged[key];
    const raw = given === undefined || given === '' ? spec.default : given;
    if (raw === undefined) continue;
    try {
      out[key] = spec.kind(raw);
    } catch (err) {
      throw failWith(options)(key, (err as Error).message);
    }
  }
  return out as EnvValues<S>;
}

/** `{ [key]: value }`, or `{}` when the value is undefined: for optional fields of a config. */
export function optionalField<K extends string, T>(
  key: K,
  value: T | undefined,
): Partial<Record<K, T>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, T>);
}
