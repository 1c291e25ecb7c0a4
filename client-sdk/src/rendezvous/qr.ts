import QRCode from 'qrcode';
import { SwitchboardError } from '../errors.js';

/**
 * Renders a card's text form (`SBC1:...`) as a QR code. Error correction M keeps a
 * typical two-mailbox card around version 12, which phone cameras read at arm's length.
 */
export async function cardQr(text: string, format: 'terminal' | 'svg'): Promise<string> {
  try {
    return await QRCode.toString(text, {
      type: format === 'terminal' ? 'terminal' : 'svg',
      errorCorrectionLevel: 'M',
      ...(format === 'terminal' ? { small: true } : {}),
    });
  } catch (cause) {
    throw new SwitchboardError('invalid-input', 'the card does not fit in one QR code', { cause });
  }
}
