import { MAX_ENVELOPE_BYTES, envelopeFromText, envelopeToText } from '../src/model/envelope.js';
import { BridgeError } from '../src/model/errors.js';

describe('envelope text form', () => {
  it('round-trips arbitrary bytes unchanged', () => {
    const bytes = new Uint8Array(1000).map((_, i) => (i * 37) % 256);
    expect(envelopeFromText(` ${envelopeToText(bytes)}\n`)).toEqual(bytes);
  });

  it('decodes the docs/envelope.md example', () => {
    const bytes = envelopeFromText('AQINdGVsOisxNTU1MDEwMAEAAAAF3q2+7wA=');
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '01020d74656c3a2b313535353031303001000000' + '05deadbeef00',
    );
  });

  it.each(['', 'abc', 'ab$=', 'AQ=A'])('refuses %j as invalid-envelope', (text) => {
    expect(() => envelopeFromText(text)).toThrow(
      expect.objectContaining({ code: 'invalid-envelope' }) as Error,
    );
  });

  it('refuses envelopes over the size limit before decoding', () => {
    const text = envelopeToText(new Uint8Array(MAX_ENVELOPE_BYTES + 1));
    let caught: unknown;
    try {
      envelopeFromText(text);
    } catch (err) {
      caught = err;
    }
    expect(BridgeError.is(caught, 'envelope-too-large')).toBe(true);
    expect(
      envelopeFromText(envelopeToText(new Uint8Array(MAX_ENVELOPE_BYTES).fill(1))).length,
    ).toBe(MAX_ENVELOPE_BYTES);
  });
});
