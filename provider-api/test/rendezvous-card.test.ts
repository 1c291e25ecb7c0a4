import { PrivateKey } from '@signalapp/libsignal-client';
import { ProviderApiError } from '@switchboard/openapi';
import { previewRendezvousCard } from '../src/pages/rendezvous-card.js';

// Cards built here byte by byte from docs/rendezvous-card.md (the SDK, which makes them on the
// device, is not a dependency of the provider).
const NOW = 1_790_000_000;

function card(options: { issuedAt?: number; expiresAt?: number; trailing?: boolean } = {}): {
  text: string;
  bytes: Buffer;
} {
  const key = PrivateKey.generate();
  const url = Buffer.from('https://mail.example', 'utf8');
  const label = Buffer.from('Dora', 'utf8');
  const times = Buffer.alloc(8);
  times.writeUInt32BE(options.issuedAt ?? NOW - 60, 0);
  times.writeUInt32BE(options.expiresAt ?? NOW + 3600, 4);
  const unsigned = Buffer.concat([
    Buffer.from([1, 1]),
    Buffer.alloc(16, 9),
    times,
    Buffer.from(key.getPublicKey().serialize()),
    Buffer.from(PrivateKey.generate().getPublicKey().serialize()),
    Buffer.from([label.length]),
    label,
    Buffer.from([1, 1]),
    Buffer.alloc(32, 3),
    Buffer.from([url.length]),
    url,
  ]);
  const context = Buffer.from('switchboard-rendezvous-card-v1', 'utf8');
  const signature = Buffer.from(key.sign(Buffer.concat([context, unsigned])));
  const bytes = Buffer.concat([
    unsigned,
    signature,
    options.trailing ? Buffer.from([0]) : Buffer.alloc(0),
  ]);
  return { text: `SBC1:${bytes.toString('base64url')}`, bytes };
}

async function refusal(text: string): Promise<string> {
  try {
    await previewRendezvousCard(text, NOW * 1000);
  } catch (err) {
    if (err instanceof ProviderApiError) return err.code;
    throw err;
  }
  throw new Error('accepted');
}

describe('previewRendezvousCard', () => {
  it('shows what a valid card says, with its QR code', async () => {
    const { text } = card();
    const preview = await previewRendezvousCard(
      `${text.slice(0, 30)}\n  ${text.slice(30)}`,
      NOW * 1000,
    );
    expect(preview).toMatchObject({
      kind: 'offer',
      label: 'Dora',
      reach: [{ type: 'mailbox', target: 'https://mail.example' }],
      expiresAt: new Date((NOW + 3600) * 1000).toISOString(),
    });
    expect(preview.qrSvg).toMatch(/^<svg /);
  });

  it('refuses a changed byte, an expired card, one from the future, trailing bytes and other text', async () => {
    const { bytes } = card();
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 70) ^ 1, bytes.length - 70); // a signed byte (reach)
    expect(await refusal(`SBC1:${bytes.toString('base64url')}`)).toBe('card.signature-invalid');
    expect(await refusal(card({ issuedAt: NOW - 7200, expiresAt: NOW - 1 }).text)).toBe(
      'card.expired',
    );
    expect(await refusal(card({ issuedAt: NOW + 3600, expiresAt: NOW + 7200 }).text)).toBe(
      'card.invalid',
    );
    expect(await refusal(card({ trailing: true }).text)).toBe('card.invalid');
    expect(await refusal('SBC2:AAAA')).toBe('card.invalid');
    expect(await refusal('SBC1:AQ')).toBe('card.invalid');
  });
});
