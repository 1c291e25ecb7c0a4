import { ByteReader, ByteWriter, fromBase64, fromUtf8, toBase64, utf8 } from './bytes.js';
import { SwitchboardError } from './errors.js';

/** MIME type under which transports carry an envelope (binary form). */
export const ENVELOPE_MIME_TYPE = 'application/vnd.switchboard.envelope';
/** Current (and only) envelope version. */
export const ENVELOPE_VERSION = 1;
/** Hard upper bound on an encoded envelope, so a receiver can refuse early. */
export const MAX_ENVELOPE_BYTES = 256 * 1024;

/**
 * What the ciphertext is (docs/envelope.md §Message types). Unknown codes are refused, not
 * skipped, so a new type never reaches an old decoder as if it were an old one.
 */
export const MessageType = {
  /** libsignal PreKeySignalMessage: first message of a session. */
  SignalPreKey: 0x01,
  /** libsignal SignalMessage: any later message of a session. */
  SignalMessage: 0x02,
  /** Unregulated mode: sealed message between rendez-vous card contacts. */
  CardMessage: 0x10,
  /** Unregulated mode: a reply card completing a rendez-vous exchange. */
  CardReply: 0x11,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

const KNOWN_TYPES = new Set<number>(Object.values(MessageType));

export interface Envelope {
  readonly version: typeof ENVELOPE_VERSION;
  readonly type: MessageTypeCode;
  /** Sender address, e.g. `tel:+15550100` or `card:<contact id>`; UTF-8, 1..255 bytes. */
  readonly sender: string;
  /** Sender device, 1..127 (libsignal range); 1 for unregulated mode. */
  readonly senderDevice: number;
  readonly ciphertext: Uint8Array<ArrayBuffer>;
}

function invalid(what: string, offset: number): SwitchboardError {
  return new SwitchboardError(
    'invalid-envelope',
    `envelope is malformed: bad ${what} at byte ${offset}`,
  );
}

function checkFields(e: Omit<Envelope, 'version'>): Uint8Array {
  if (!KNOWN_TYPES.has(e.type)) {
    throw new SwitchboardError('invalid-envelope', 'unknown envelope message type');
  }
  const sender = utf8(e.sender);
  if (sender.length < 1 || sender.length > 255) {
    throw new SwitchboardError('invalid-envelope', 'sender address must be 1..255 UTF-8 bytes');
  }
  if (!Number.isInteger(e.senderDevice) || e.senderDevice < 1 || e.senderDevice > 127) {
    throw new SwitchboardError('invalid-envelope', 'sender device must be 1..127');
  }
  if (e.ciphertext.length < 1) {
    throw new SwitchboardError('invalid-envelope', 'ciphertext is empty');
  }
  return sender;
}

/**
 * Binary form (docs/envelope.md):
 * `version(1) type(1) senderLen(1) sender(senderLen) device(1) ctLen(4, big-endian) ct(ctLen)`.
 */
export function encodeEnvelope(e: Omit<Envelope, 'version'>): Uint8Array<ArrayBuffer> {
  const sender = checkFields(e);
  const out = new ByteWriter()
    .u8(ENVELOPE_VERSION)
    .u8(e.type)
    .u8(sender.length)
    .bytes(sender)
    .u8(e.senderDevice)
    .u32(e.ciphertext.length)
    .bytes(e.ciphertext)
    .finish();
  if (out.length > MAX_ENVELOPE_BYTES) {
    throw new SwitchboardError('invalid-envelope', `envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  }
  return out;
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    throw new SwitchboardError('invalid-envelope', `envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  }
  const r = new ByteReader(bytes, invalid);
  const version = r.u8('version');
  if (version !== ENVELOPE_VERSION) {
    throw new SwitchboardError(
      'unsupported-version',
      `envelope version ${version} is not supported (this SDK reads version ${ENVELOPE_VERSION}); update the app`,
    );
  }
  const type = r.u8('message type');
  if (!KNOWN_TYPES.has(type)) throw invalid('message type', 1);
  const senderLen = r.u8('sender length');
  if (senderLen === 0) throw invalid('sender length', 2);
  const sender = fromUtf8(r.bytes(senderLen, 'sender'));
  if (sender === undefined) throw invalid('sender (not UTF-8)', 3);
  const deviceAt = r.offset;
  const senderDevice = r.u8('device');
  if (senderDevice < 1 || senderDevice > 127) throw invalid('device', deviceAt);
  const ctLen = r.u32('ciphertext length');
  if (ctLen === 0) throw invalid('ciphertext length', r.offset - 4);
  const ciphertext = r.bytes(ctLen, 'ciphertext');
  if (r.remaining !== 0) throw invalid('trailing data', r.offset);
  return {
    version: ENVELOPE_VERSION,
    type: type as MessageTypeCode,
    sender,
    senderDevice,
    ciphertext,
  };
}

/** Text form: standard base64 (RFC 4648 §4, padded) of the binary form. */
export function envelopeToText(e: Omit<Envelope, 'version'>): string {
  return toBase64(encodeEnvelope(e));
}

export function envelopeFromText(text: string): Envelope {
  const trimmed = text.trim();
  if (trimmed.length > Math.ceil(MAX_ENVELOPE_BYTES / 3) * 4) {
    throw new SwitchboardError('invalid-envelope', `envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  }
  const bytes = fromBase64(trimmed);
  if (!bytes) throw new SwitchboardError('invalid-envelope', 'envelope text is not valid base64');
  return decodeEnvelope(bytes);
}
