import { Fingerprint, PublicKey } from '@signalapp/libsignal-client';
import { copyBytes, utf8 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';

/** Iterations and version Signal uses for safety numbers. */
const ITERATIONS = 5200;
const VERSION = 2;

export interface SafetyNumber {
  /** 60 digits in 12 groups of 5, the same on both sides. */
  readonly display: string;
  /** Bytes for a QR code that the other side can compare with `compareScannable`. */
  readonly scannable: Uint8Array;
}

/**
 * Safety number between the local identity and a contact (libsignal `Fingerprint`).
 * Identifiers are the stable names both sides use (E.164, or a card's contact id).
 */
export function safetyNumber(
  localIdentifier: string,
  localKey: Uint8Array,
  remoteIdentifier: string,
  remoteKey: Uint8Array,
): SafetyNumber {
  let fp: Fingerprint;
  try {
    fp = Fingerprint.new(
      ITERATIONS,
      VERSION,
      utf8(localIdentifier),
      PublicKey.deserialize(copyBytes(localKey)),
      utf8(remoteIdentifier),
      PublicKey.deserialize(copyBytes(remoteKey)),
    );
  } catch (cause) {
    throw new SwitchboardError('invalid-input', 'not a valid identity key', { cause });
  }
  const digits = fp.displayableFingerprint().toString();
  return {
    display: digits.match(/.{1,5}/g)?.join(' ') ?? digits,
    scannable: fp.scannableFingerprint().toBuffer(),
  };
}

/** Short fingerprint of a single public key for display: SHA-256 hex in groups of 4. */
export async function keyFingerprint(publicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await globalThis.crypto.subtle.digest('SHA-256', copyBytes(publicKey)),
  );
  let hex = '';
  for (const b of digest.subarray(0, 16)) hex += b.toString(16).padStart(2, '0');
  return hex.match(/.{4}/g)!.join(':');
}
