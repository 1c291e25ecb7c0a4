/** Why a packet, name or record could not be decoded or encoded. */
export type DnsWireErrorCode =
  /** A read ran past the end of the input. */
  | 'truncated'
  /** A compression pointer that does not point strictly backwards (RFC 1035 4.1.4; no loops). */
  | 'bad-pointer'
  /** A label longer than 63 octets, or an unknown label type (0x40/0x80). */
  | 'bad-label'
  /** A name longer than 255 octets in wire form. */
  | 'name-too-long'
  /** RDLENGTH disagrees with what the rdata holds, or the rdata is malformed for its TYPE. */
  | 'bad-rdata'
  /** A malformed or repeated OPT record (RFC 6891 6.1.1). */
  | 'bad-opt'
  /** Octets left after the last record the header counts announce. */
  | 'trailing-data'
  /** A value that cannot be encoded (out of range, too long, unparsable text). */
  | 'bad-value'
  /** The encoded message would exceed 65535 octets. */
  | 'too-large'
  /** Zone-file (presentation format) text that cannot be parsed. */
  | 'bad-syntax';

/**
 * The one error type of this package. `offset` is the octet offset in the input where decoding
 * failed (for text parsing: the 1-based line number; for encoding: -1). The message never
 * contains the packet's content.
 */
export class DnsWireError extends Error {
  readonly code: DnsWireErrorCode;
  readonly offset: number;

  constructor(code: DnsWireErrorCode, offset: number, message: string) {
    super(message);
    this.name = 'DnsWireError';
    this.code = code;
    this.offset = offset;
  }

  /** True if `err` is a DnsWireError (with the given code, if one is given). */
  static is(err: unknown, code?: DnsWireErrorCode): err is DnsWireError {
    return err instanceof DnsWireError && (code === undefined || err.code === code);
  }
}

/** Same as `DnsWireError.is`. */
export function isDnsWireError(err: unknown, code?: DnsWireErrorCode): err is DnsWireError {
  return DnsWireError.is(err, code);
}
