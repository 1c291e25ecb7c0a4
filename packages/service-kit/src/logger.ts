import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import { pino } from 'pino';

/**
 * Field names whose values never reach a log line, wherever they appear (top level or one or
 * two levels down). Phone numbers, keys, tokens, codes and message bodies are personal data or
 * secrets (STYLE.md habit 5).
 */
export const REDACTED_FIELDS: readonly string[] = [
  'number',
  'e164',
  'phone',
  'phoneNumber',
  'code',
  'token',
  'secret',
  'password',
  'authorization',
  'cookie',
  'apiKey',
  'privateKey',
  'identityKey',
  'publicKey',
  'signature',
  'prekey',
  'signedPrekey',
  'body',
  'ciphertext',
  'plaintext',
  'messageBody',
  'envelope',
];

// Seven or more digits, optionally led by `+` (or its percent-encoding) and separated by
// single spaces, dashes, parentheses, slashes or `%20`, as people and URLs write numbers; and
// the ENUM form (seven or more single digits separated by dots). Over-matching a date or an id
// is the price of never letting a number through.
const NUMBER_PATTERN = /(?:\+|%2[Bb])?\d(?:(?:[ \-()/]|%20)?\d){6,}/g;
const ENUM_PATTERN = /\b(?:\d\.){6,}\d\b/g;

/** Masks anything shaped like a phone number inside free text (e.g. an error message). */
export function redactText(text: string): string {
  return text.replace(ENUM_PATTERN, '[number]').replace(NUMBER_PATTERN, '[number]');
}

/** Options for {@link createLogger}. */
export interface LogConfig {
  /** The part's name, added to every line as `service`. */
  readonly service: string;
  /** pino level; `silent` in tests. Default `info`. */
  readonly level?: string;
  /** Where lines go (default stdout). */
  readonly destination?: DestinationStream;
}

/**
 * A structured JSON logger with redaction applied at the logger, so no call site can leak a
 * number, key, token or message body by forgetting to.
 *
 * @example
 * const log = createLogger({ service: 'directory' });
 * log.info({ zone: 'e164.switchboard.test.' }, 'zone loaded');
 */
export function createLogger(config: LogConfig): Logger {
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: config.service },
    redact: { paths, censor: '[redacted]' },
    formatters: {
      level: (label) => ({ level: label }),
      // Free text anywhere in a line (a `detail`, a URL, a nested error) is masked too.
      log: (object) => redactStrings(object, 0) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' ? redactText(a) : a));
        method.apply(this, redacted as Parameters<typeof method>);
      },
    },
    serializers: {
      err: (err: unknown) => {
        if (!(err instanceof Error)) return err;
        return {
          type: err.name,
          message: redactText(err.message),
          stack: err.stack && redactText(err.stack),
        };
      },
    },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

export type { Logger };

function redactStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value; // the err serializer handles errors
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactStrings(v, depth + 1);
  return out;
}
