// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), the PRF of the
// interoperable DNS server cookie (RFC 9018 4.4). Written on 32-bit halves: JavaScript numbers
// hold 53 bits and BigInt allocates, and a cookie is hashed for every query that carries one.

/** State v0..v3 as [high, low] 32-bit halves: v0h v0l v1h v1l v2h v2l v3h v3l. */
type State = Uint32Array;

function add(s: State, a: number, b: number): void {
  const lo = (s[a + 1]! + s[b + 1]!) >>> 0;
  s[a] = (s[a]! + s[b]! + (lo < s[a + 1]! ? 1 : 0)) >>> 0;
  s[a + 1] = lo;
}

function rotl(s: State, a: number, n: number): void {
  let hi = s[a]!;
  let lo = s[a + 1]!;
  if (n >= 32) {
    const t = hi;
    hi = lo;
    lo = t;
    n -= 32;
  }
  if (n > 0) {
    const h = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    lo = ((lo << n) | (hi >>> (32 - n))) >>> 0;
    hi = h;
  }
  s[a] = hi;
  s[a + 1] = lo;
}

function xor(s: State, a: number, b: number): void {
  s[a] = (s[a]! ^ s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! ^ s[b + 1]!) >>> 0;
}

const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

function sipRound(s: State): void {
  add(s, V0, V1);
  rotl(s, V1, 13);
  xor(s, V1, V0);
  rotl(s, V0, 32);
  add(s, V2, V3);
  rotl(s, V3, 16);
  xor(s, V3, V2);
  add(s, V0, V3);
  rotl(s, V3, 21);
  xor(s, V3, V0);
  add(s, V2, V1);
  rotl(s, V1, 17);
  xor(s, V1, V2);
  rotl(s, V2, 32);
}

function le32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Mixes one 64-bit little-endian word (high, low) into the state: two compression rounds. */
function compress(s: State, mh: number, ml: number): void {
  s[V3] = (s[V3]! ^ mh) >>> 0;
  s[V3 + 1] = (s[V3 + 1]! ^ ml) >>> 0;
  sipRound(s);
  sipRound(s);
  s[V0] = (s[V0]! ^ mh) >>> 0;
  s[V0 + 1] = (s[V0 + 1]! ^ ml) >>> 0;
}

/** A SipHash-2-4 key (16 octets) made ready for hashing. */
export class SipHashKey {
  readonly #k0h: number;
  readonly #k0l: number;
  readonly #k1h: number;
  readonly #k1l: number;
  readonly #state: State = new Uint32Array(8);
  readonly #tail = new Uint8Array(8);

  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError('a SipHash key is 16 octets');
    this.#k0l = le32(key, 0);
    this.#k0h = le32(key, 4);
    this.#k1l = le32(key, 8);
    this.#k1h = le32(key, 12);
  }

  /**
   * SipHash-2-4 of `data[start, end)` written as 8 octets at `out[at]`, in the byte order of the
   * reference implementation (little-endian), which is what RFC 9018 puts in the cookie.
   */
  hashInto(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
    const s = this.#state;
    // "somepseudorandomlygeneratedbytes"
    s[0] = (this.#k0h ^ 0x736f6d65) >>> 0;
    s[1] = (this.#k0l ^ 0x70736575) >>> 0;
    s[2] = (this.#k1h ^ 0x646f7261) >>> 0;
    s[3] = (this.#k1l ^ 0x6e646f6d) >>> 0;
    s[4] = (this.#k0h ^ 0x6c796765) >>> 0;
    s[5] = (this.#k0l ^ 0x6e657261) >>> 0;
    s[6] = (this.#k1h ^ 0x74656462) >>> 0;
    s[7] = (this.#k1l ^ 0x79746573) >>> 0;
    const length = end - start;
    const whole = start + (length & ~7);
    for (let p = start; p < whole; p += 8) compress(s, le32(data, p + 4), le32(data, p));
    // The last word: the remaining octets, and the length (mod 256) in the top octet.
    const tail = this.#tail;
    tail.fill(0);
    for (let p = whole; p < end; p++) tail[p - whole] = data[p]!;
    tail[7] = length & 0xff;
    compress(s, le32(tail, 4), le32(tail, 0));
    s[V2 + 1] = (s[V2 + 1]! ^ 0xff) >>> 0;
    sipRound(s);
    sipRound(s);
    sipRound(s);
    sipRound(s);
    const hi = (s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0;
    const lo = (s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0;
    for (let i = 0; i < 4; i++) {
      out[at + i] = (lo >>> (8 * i)) & 0xff;
      out[at + 4 + i] = (hi >>> (8 * i)) & 0xff;
    }
  }

  /** SipHash-2-4 of `data` as 8 octets. */
  hash(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(8);
    this.hashInto(data, 0, data.length, out, 0);
    return out;
  }
}
