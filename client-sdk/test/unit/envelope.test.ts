import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  SwitchboardError,
  decodeEnvelope,
  encodeEnvelope,
  envelopeFromText,
  envelopeToText,
  fromHex,
  toHex,
} from '../../src/index.js';
import type { MessageTypeCode } from '../../src/index.js';

interface Vector {
  name: string;
  type: number;
  sender: string;
  senderDevice: number;
  ciphertextHex: string;
  hex: string;
  text: string;
}

// Golden files stay in test/golden (not copied by tsc); resolve from dist/test/unit.
const goldenPath = fileURLToPath(new URL('../../../test/golden/envelope-v1.json', import.meta.url));
const vectors = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { vectors: Vector[] }).vectors;

describe('envelope v1 golden vectors', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const fields = {
      type: v.type as MessageTypeCode,
      sender: v.sender,
      senderDevice: v.senderDevice,
      ciphertext: fromHex(v.ciphertextHex)!,
    };
    expect(toHex(encodeEnvelope(fields))).toBe(v.hex);
    expect(envelopeToText(fields)).toBe(v.text);
    const decoded = decodeEnvelope(fromHex(v.hex)!);
    expect(decoded).toEqual({ version: 1, ...fields });
    expect(envelopeFromText(v.text)).toEqual(decoded);
  });
});

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    if (err instanceof SwitchboardError) return err.code;
    throw err;
  }
  return undefined;
}

describe('envelope rejects hostile input', () => {
  const good = fromHex(vectors[0]!.hex)!;

  it('refuses every truncation with invalid-envelope', () => {
    for (let n = 0; n < good.length; n++) {
      expect(code(() => decodeEnvelope(good.subarray(0, n)))).toBe('invalid-envelope');
    }
  });

  it('refuses trailing bytes, unknown types, bad devices and a newer version', () => {
    const trailing = new Uint8Array([...good, 0]);
    expect(code(() => decodeEnvelope(trailing))).toBe('invalid-envelope');
    const badType = good.slice();
    badType[1] = 0x7e;
    expect(code(() => decodeEnvelope(badType))).toBe('invalid-envelope');
    const badDevice = good.slice();
    badDevice[3 + 13] = 0;
    expect(code(() => decodeEnvelope(badDevice))).toBe('invalid-envelope');
    const v2 = good.slice();
    v2[0] = 2;
    expect(code(() => decodeEnvelope(v2))).toBe('unsupported-version');
  });

  it('refuses invalid UTF-8 senders and non-base64 text', () => {
    const bad = fromHex('010201ff0100000001aa')!;
    expect(code(() => decodeEnvelope(bad))).toBe('invalid-envelope');
    expect(code(() => envelopeFromText('not base64!'))).toBe('invalid-envelope');
  });

  it('refuses to encode out-of-range fields', () => {
    const base = {
      type: 2 as const,
      sender: 'x',
      senderDevice: 1,
      ciphertext: new Uint8Array([1]),
    };
    expect(code(() => encodeEnvelope({ ...base, senderDevice: 128 }))).toBe('invalid-envelope');
    expect(code(() => encodeEnvelope({ ...base, sender: '' }))).toBe('invalid-envelope');
    expect(code(() => encodeEnvelope({ ...base, sender: 'a'.repeat(256) }))).toBe(
      'invalid-envelope',
    );
    expect(code(() => encodeEnvelope({ ...base, ciphertext: new Uint8Array() }))).toBe(
      'invalid-envelope',
    );
  });
});
