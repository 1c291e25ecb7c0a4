// Bounds-checked reads over a message buffer, limited to [pos, end).
import { DnsWireError } from '../errors.js';
import { decodeLabels, labelsToName } from '../values/name.js';
import type { DomainName } from '../types.js';

export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.end)
      throw new DnsWireError(
        this.end < this.buf.length ? 'bad-rdata' : 'truncated',
        this.pos,
        `${what} runs past the end`,
      );
  }

  u8(): number {
    this.need(1, 'octet');
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    this.need(2, '16-bit field');
    const v = ((this.buf[this.pos] as number) << 8) | (this.buf[this.pos + 1] as number);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, '32-bit field');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (
      (((b[p] as number) << 24) >>> 0) +
      (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
    );
  }

  u48(): number {
    const hi = this.u16();
    return hi * 0x100000000 + this.u32();
  }

  bytes(n: number): Uint8Array {
    this.need(n, 'field');
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  charString(): Uint8Array {
    const len = this.u8();
    return this.bytes(len);
  }

  rest(): Uint8Array {
    return this.bytes(this.end - this.pos);
  }

  remaining(): number {
    return this.end - this.pos;
  }

  name(): DomainName {
    if (this.pos >= this.end)
      throw new DnsWireError('bad-rdata', this.pos, 'name runs past the end');
    const { labels, end } = decodeLabels(this.buf, this.pos);
    if (end > this.end) throw new DnsWireError('bad-rdata', this.pos, 'name runs past the rdata');
    this.pos = end;
    return labelsToName(labels);
  }
}
