// Hostile input never crashes a decoder: every failure is a typed SwitchboardError.
import fc from 'fast-check';
import {
  MessageType,
  SwitchboardError,
  cardFromText,
  decodeEnvelope,
  encodeEnvelope,
  envelopeFromText,
  fromBase64,
  openCard,
  toBase64,
} from '../../src/index.js';

function onlyTypedErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof SwitchboardError)) throw err;
  }
}

const types = Object.values(MessageType);

describe('hostile input', () => {
  it('envelope: any bytes decode or fail with a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        onlyTypedErrors(() => decodeEnvelope(bytes)),
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) =>
        onlyTypedErrors(() => envelopeFromText(text)),
      ),
    );
  });

  it('envelope: encode/decode round-trips every valid field combination', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...types),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 127 }),
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        (type, sender, senderDevice, ciphertext) => {
          const fields = { type, sender, senderDevice, ciphertext: Uint8Array.from(ciphertext) };
          expect(decodeEnvelope(encodeEnvelope(fields))).toEqual({ version: 1, ...fields });
        },
      ),
    );
  });

  it('cards: any bytes or text open or fail with a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) =>
        onlyTypedErrors(() => openCard(bytes, 1_800_000_000)),
      ),
      { numRuns: 2000 },
    );
    // Version and kind bytes set, so parsing gets past the first checks more often.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 100, maxLength: 400 }),
        fc.constantFrom(1, 2),
        (rest, kind) =>
          onlyTypedErrors(() => openCard(Uint8Array.from([1, kind, ...rest]), 1_800_000_000)),
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (t) =>
        onlyTypedErrors(() => cardFromText(`SBC1:${t}`)),
      ),
    );
  });

  it('base64 decoding is canonical', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(fromBase64(toBase64(bytes))).toEqual(Uint8Array.from(bytes));
      }),
    );
    expect(fromBase64('QQ==')).toEqual(Uint8Array.from([0x41]));
    expect(fromBase64('QR==')).toBeUndefined();
    expect(fromBase64('Q===')).toBeUndefined();
  });
});
