import { DnsWireError, decodeMessage, peekHeader } from '../src/index.js';
import type { DnsWireErrorCode } from '../src/index.js';

const hdr = (qd: number, an = 0, ns = 0, ar = 0): number[] => [
  0xab,
  0xcd,
  0x28,
  0x00,
  0,
  qd,
  0,
  an,
  0,
  ns,
  0,
  ar,
];

function failure(bytes: number[]): { code: DnsWireErrorCode; offset: number } {
  try {
    decodeMessage(Uint8Array.from(bytes));
  } catch (e) {
    if (e instanceof DnsWireError) return { code: e.code, offset: e.offset };
    throw e;
  }
  throw new Error('decoded without error');
}

describe('decodeMessage on hostile input', () => {
  it.each<[string, number[], DnsWireErrorCode, number]>([
    ['short header', [1, 2, 3], 'truncated', 3],
    ['question count lies', [...hdr(2), 0, 0, 1, 0, 1], 'truncated', 17],
    ['self pointer', [...hdr(1), 0xc0, 12, 0, 1, 0, 1], 'bad-pointer', 12],
    ['forward pointer', [...hdr(1), 0xc0, 14, 0, 0, 1, 0, 1], 'bad-pointer', 12],
    // label "a" then a pointer back to the label itself: a loop through a backward pointer.
    ['pointer loop', [...hdr(1), 1, 0x61, 0xc0, 12, 0, 1, 0, 1], 'bad-pointer', 14],
    ['label type 0x40', [...hdr(1), 0x41, 0, 0, 1, 0, 1], 'bad-label', 12],
    ['label past end', [...hdr(1), 5, 0x61], 'truncated', 12],
    ['truncated pointer', [...hdr(1), 0xc0], 'truncated', 12],
    [
      'rdata length past end',
      [...hdr(0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2],
      'truncated',
      23,
    ],
    [
      'A rdata of 5 octets',
      [...hdr(0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5],
      'bad-rdata',
      23,
    ],
    // MX whose name would run out of its 3-octet rdata into the next bytes.
    [
      'name runs out of rdata',
      [...hdr(0, 1), 0, 0, 15, 0, 1, 0, 0, 0, 1, 0, 3, 0, 1, 1, 0x61, 0],
      'bad-rdata',
      25,
    ],
    ['trailing data', [...hdr(0), 0], 'trailing-data', 12],
    ['OPT in answer', [...hdr(0, 1), 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0], 'bad-opt', 12],
    [
      'two OPT records',
      [
        ...hdr(0, 0, 0, 2),
        ...[0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0],
        ...[0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0],
      ],
      'bad-opt',
      23,
    ],
    [
      'OPT owner not root',
      [...hdr(0, 0, 0, 1), 1, 0x61, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0],
      'bad-opt',
      12,
    ],
    [
      'EDNS option past OPT',
      [...hdr(0, 0, 0, 1), 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9],
      'bad-opt',
      27,
    ],
    [
      'bitmap window out of order',
      [...hdr(0, 1), 0, 0, 47, 0, 1, 0, 0, 0, 1, 0, 7, 0, 1, 1, 0x40, 0, 1, 0x40],
      'bad-rdata',
      27,
    ],
    [
      'NAPTR regexp not UTF-8',
      [...hdr(0, 1), 0, 0, 35, 0, 1, 0, 0, 0, 1, 0, 9, 0, 1, 0, 1, 0, 0, 1, 0xff, 0],
      'bad-rdata',
      29,
    ],
  ])('%s', (_what, bytes, code, offset) => {
    expect(failure(bytes)).toEqual({ code, offset });
  });

  it('rejects names over 255 octets, plain or built from pointers', () => {
    const label = [63, ...new Array<number>(63).fill(0x61)];
    expect(
      failure([...hdr(1), ...label, ...label, ...label, ...label, ...label, 0, 0, 1, 0, 1]),
    ).toEqual({
      code: 'name-too-long',
      offset: 12 + 3 * 64,
    });
    // Question: 3 labels (193 octets); answer owner: 2 labels + pointer to the question = 321.
    const question = [...label, ...label, ...label, 0, 0, 1, 0, 1];
    const answer = [...label, ...label, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4];
    expect(failure([...hdr(1, 1), ...question, ...answer])).toEqual({
      code: 'name-too-long',
      offset: 12 + 64,
    });
  });

  it('peekHeader recovers ID and opcode of a malformed packet for FORMERR', () => {
    const bad = Uint8Array.from([...hdr(1), 0xc0, 12, 0, 1, 0, 1]);
    expect(() => decodeMessage(bad)).toThrow(DnsWireError);
    expect(peekHeader(bad)).toMatchObject({ id: 0xabcd, opcode: 5, qr: false, qdcount: 1 });
    expect(peekHeader(Uint8Array.from([1, 2, 3]))).toBeUndefined();
  });
});
