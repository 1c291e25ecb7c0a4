import { PublicKey } from '@signalapp/libsignal-client';
import QRCode from 'qrcode';
import type { ProviderSchema } from '@switchboard/openapi';
import { fail } from '../core/errors.js';
import { isoTime, toArrayBuffer } from '../core/encoding.js';

type Preview = ProviderSchema<'RendezvousCardPreview'>;

/** docs/rendezvous-card.md: the XEdDSA signature covers this prefix and every card byte before it. */
const SIGNATURE_CONTEXT = Buffer.from('switchboard-rendezvous-card-v1', 'utf8');
const MAX_CARD_BYTES = 1024;
/** A card issued this far in the future is not valid yet (clock skew allowance). */
const FUTURE_SKEW_SECONDS = 300;

/** Reads the binary card field by field; every read is bounds-checked. */
class CardReader {
  #at = 0;
  constructor(readonly bytes: Buffer) {}
  take(n: number): Buffer {
    if (this.#at + n > this.bytes.length) throw invalid('the card ends too early');
    const out = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u32(): number {
    return this.take(4).readUInt32BE(0);
  }
  get offset(): number {
    return this.#at;
  }
}

function invalid(why: string): Error {
  return fail('card.invalid', `not a rendez-vous card: ${why}`);
}

function utf8(bytes: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`${what} is not UTF-8`);
  }
}

/** The `SBC1:` text form as bytes (whitespace ignored, base64url without padding). */
function cardBytes(text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (!compact.startsWith('SBC1:')) throw invalid('the text must start with SBC1:');
  const body = compact.slice(5);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw invalid('after SBC1: comes base64url text');
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length > MAX_CARD_BYTES) throw invalid('the card is longer than 1024 bytes');
  return bytes;
}

function readReach(r: CardReader): Preview['reach'] {
  const count = r.u8();
  if (count < 1 || count > 8) throw invalid('a card lists 1 to 8 ways to reach its owner');
  const reach: Preview['reach'][number][] = [];
  for (let i = 0; i < count; i++) {
    const type = r.u8();
    if (type === 0x01) {
      r.take(32); // mailbox address
      const url = utf8(r.take(r.u8()), 'a provider URL');
      if (!/^https?:\/\/\S+$/.test(url)) throw invalid('a mailbox provider URL is not http(s)');
      reach.push({ type: 'mailbox', target: url });
    } else if (type === 0x02) {
      const uri = utf8(r.take(r.u8()), 'an address');
      if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(uri)) throw invalid('a network address is not a URI');
      reach.push({ type: 'address', target: uri });
    } else {
      throw invalid('a reach entry has an unknown type');
    }
  }
  return reach;
}

/**
 * Checks a card as a reader does (form, signature by its own contact key, validity window; in
 * that order, docs/rendezvous-card.md "Checks when reading a card") and renders its text as a
 * QR code. The provider stores nothing of it.
 */
export async function previewRendezvousCard(text: string, nowMs: number): Promise<Preview> {
  const bytes = cardBytes(text);
  const r = new CardReader(bytes);
  const version = r.u8();
  if (version !== 1) throw invalid('unsupported card version');
  const kind = r.u8();
  if (kind !== 1 && kind !== 2) throw invalid('the card is neither an offer nor a reply');
  r.take(16); // card id
  const issuedAt = r.u32();
  const expiresAt = r.u32();
  if (expiresAt <= issuedAt) throw invalid('the card expires before it was issued');
  const contactKey = r.take(33);
  r.take(33); // conversation key
  if (kind === 2) r.take(32); // the offer it answers
  const label = utf8(r.take(r.u8()), 'the label');
  const reach = readReach(r);
  const signed = bytes.subarray(0, r.offset);
  const signature = r.take(64);
  if (r.offset !== bytes.length) throw invalid('bytes follow the signature');
  let key: PublicKey;
  try {
    key = PublicKey.deserialize(toArrayBuffer(contactKey));
  } catch {
    throw invalid('the contact key is not a public key');
  }
  const message = toArrayBuffer(Buffer.concat([SIGNATURE_CONTEXT, signed]));
  if (!key.verify(message, toArrayBuffer(signature))) {
    throw fail('card.signature-invalid', 'the card is not signed by its key: it was changed');
  }
  const now = Math.floor(nowMs / 1000);
  if (now >= expiresAt) throw fail('card.expired', 'the card has expired; make a new one');
  if (issuedAt > now + FUTURE_SKEW_SECONDS) {
    throw invalid('the card is not valid yet (check the clock of the device that made it)');
  }
  const qrSvg = await QRCode.toString(`SBC1:${bytes.toString('base64url')}`, {
    type: 'svg',
    errorCorrectionLevel: 'M',
    margin: 4,
  });
  return {
    kind: kind === 1 ? 'offer' : 'reply',
    label,
    issuedAt: isoTime(issuedAt * 1000),
    expiresAt: isoTime(expiresAt * 1000),
    reach,
    qrSvg,
  };
}
