import QRCode from 'qrcode';
import { SwitchboardError } from '../errors.js';

/** PNG rendering of a card's text form (Node: uses Buffer). */
export async function cardQrPng(text: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M' }));
  } catch (cause) {
    throw new SwitchboardError('invalid-input', 'the card does not fit in one QR code', { cause });
  }
}
