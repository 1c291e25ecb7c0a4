// Shared test helpers: fixture loading and the round-trip check every codec test uses.
import { readFileSync } from 'node:fs';
import { decodeMessage, encodeMessage, rdataCodec } from '../src/index.js';
import type { KnownType, Message, RdataByType } from '../src/index.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url);

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(fixtureText(name).trim(), 'hex'));
}

/** Copies `bytes` into a larger buffer at a non-zero offset and returns a view of them. */
export function atOffset(bytes: Uint8Array, offset = 7): Uint8Array {
  const big = new Uint8Array(bytes.length + offset + 5).fill(0xee);
  big.set(bytes, offset);
  return big.subarray(offset, offset + bytes.length);
}

/**
 * Message round trip (dns-packet style): encode, decode, re-encode; the re-encoding must have the
 * same bytes and length; decoding the same bytes from a view at a non-zero offset of a larger
 * buffer must give the same message.
 */
export function roundTripMessage(msg: Message): Message {
  const first = encodeMessage(msg);
  const decoded = decodeMessage(first);
  const second = encodeMessage(decoded);
  expect(second.length).toBe(first.length);
  expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
  expect(decodeMessage(atOffset(first))).toEqual(decoded);
  return decoded;
}

/** Rdata codec round trip: encode, decode, re-encode, lengths, and again at a non-zero offset. */
export function roundTripRdata<T extends KnownType>(type: T, data: RdataByType[T]): RdataByType[T] {
  const codec = rdataCodec(type);
  const bytes = codec.encode(data);
  expect(codec.encodingLength(data)).toBe(bytes.length);
  const decoded = codec.decode(bytes, 0, bytes.length);
  const again = codec.encode(decoded);
  expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  const buf = new Uint8Array(bytes.length + 10);
  const written = codec.encodeInto(data, buf, 6);
  expect(written).toBe(bytes.length);
  expect(codec.decode(buf, 6, written)).toEqual(decoded);
  return decoded;
}

export function header(overrides: Partial<Message> = {}): Message {
  return {
    id: 0x1234,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    ...overrides,
  };
}
