/** Why a key or zone operation was refused (validation results are values, not errors). */
export type DnssecErrorCode =
  'unsupported-algorithm' | 'bad-key' | 'bad-key-file' | 'bad-zone' | 'bad-option';

/** The error type of this package; messages never contain key material. */
export class DnssecError extends Error {
  readonly code: DnssecErrorCode;

  constructor(code: DnssecErrorCode, message: string) {
    super(message);
    this.name = 'DnssecError';
    this.code = code;
  }

  static is(err: unknown, code?: DnssecErrorCode): err is DnssecError {
    return err instanceof DnssecError && (code === undefined || err.code === code);
  }
}
