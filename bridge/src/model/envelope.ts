import { BridgeError } from './errors.js';

/** docs/envelope.md: the largest envelope (binary form) any part accepts. */
export const MAX_ENVELOPE_BYTES = 262_144;

/** Media type of the binary form (docs/envelope.md). */
export const ENVELOPE_MEDIA_TYPE = 'application/vnd.switchboard.envelope';

/** Longest base64 text form of a maximal envelope. */
export const MAX_ENVELOPE_TEXT_CHARS = Math.ceil(MAX_ENVELOPE_BYTES / 3) * 4;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes the envelope text form (RFC 4648 §4 base64, surrounding whitespace trimmed) without
 * looking inside: the bridge only bounds the size; the bytes stay opaque.
 */
export function envelopeFromText(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.length > MAX_ENVELOPE_TEXT_CHARS) {
    throw new BridgeError('envelope-too-large', 'envelope exceeds the size limit');
  }
  if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !BASE64.test(trimmed)) {
    throw new BridgeError('invalid-envelope', 'envelope text is not padded base64');
  }
  const bytes = new Uint8Array(Buffer.from(trimmed, 'base64'));
  return checkEnvelopeSize(bytes);
}

/** The text form of envelope bytes. */
export function envelopeToText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Refuses empty or oversized envelopes; returns the bytes unchanged. */
export function checkEnvelopeSize(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength === 0) throw new BridgeError('invalid-envelope', 'envelope is empty');
  if (bytes.byteLength > MAX_ENVELOPE_BYTES) {
    throw new BridgeError('envelope-too-large', 'envelope exceeds the size limit');
  }
  return bytes;
}
