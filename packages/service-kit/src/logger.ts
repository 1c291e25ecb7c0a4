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
  'message',
  'envelope',
];

const E164_PATTERN = /\+?\b\d{7,15}\b/g;

/** Masks anything shaped like a phone number inside free text (e.g. an error message). */
export function redactText(text: string): string {
  return text.replace(E164_PATTERN, '[number]');
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
    formatters: { level: (label) => ({ level: label }) },
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
