// One codec per rdata TYPE. `encode` writes through a Writer (which knows whether to compress
// and whether to lowercase); `decode` reads exactly the rdata through a Reader.
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../values/addresses.js';
import { DnsWireError } from '../errors.js';
import type { Reader } from './reader.js';
import { RRType } from '../types.js';
import type {
  AaaaData,
  AData,
  CaaData,
  DnskeyData,
  DsData,
  MxData,
  NameData,
  NaptrData,
  Nsec3Data,
  Nsec3ParamData,
  NsecData,
  RrsigData,
  SoaData,
  TsigData,
  TxtData,
  UnknownData,
} from '../types.js';
import type { Writer } from './writer.js';

export interface WireCodec<D> {
  encode(w: Writer, data: D): void;
  decode(r: Reader): D;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function readUtf8(r: Reader): string {
  const at = r.pos;
  const bytes = r.charString();
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new DnsWireError('bad-rdata', at, 'character-string is not UTF-8');
  }
}

export const aCodec: WireCodec<AData> = {
  encode(w, d) {
    w.bytes(parseIpv4(d.address));
  },
  decode(r) {
    if (r.remaining() !== 4) throw new DnsWireError('bad-rdata', r.pos, 'A rdata is not 4 octets');
    return { address: formatIpv4(r.bytes(4)) };
  },
};

export const aaaaCodec: WireCodec<AaaaData> = {
  encode(w, d) {
    w.bytes(parseIpv6(d.address));
  },
  decode(r) {
    if (r.remaining() !== 16)
      throw new DnsWireError('bad-rdata', r.pos, 'AAAA rdata is not 16 octets');
    return { address: formatIpv6(r.bytes(16)) };
  },
};

/** NS, CNAME, PTR (compressible, RFC 3597 4) and DNAME (not compressible, RFC 6672 2.5). */
export function nameCodec(compressible: boolean): WireCodec<NameData> {
  return {
    encode(w, d) {
      w.name(d.target, compressible, true);
    },
    decode(r) {
      return { target: r.name() };
    },
  };
}

export const soaCodec: WireCodec<SoaData> = {
  encode(w, d) {
    w.name(d.mname, true, true);
    w.name(d.rname, true, true);
    w.u32(d.serial);
    w.u32(d.refresh);
    w.u32(d.retry);
    w.u32(d.expire);
    w.u32(d.minimum);
  },
  decode(r) {
    return {
      mname: r.name(),
      rname: r.name(),
      serial: r.u32(),
      refresh: r.u32(),
      retry: r.u32(),
      expire: r.u32(),
      minimum: r.u32(),
    };
  },
};

export const mxCodec: WireCodec<MxData> = {
  encode(w, d) {
    w.u16(d.preference);
    w.name(d.exchange, true, true);
  },
  decode(r) {
    return { preference: r.u16(), exchange: r.name() };
  },
};

export const txtCodec: WireCodec<TxtData> = {
  encode(w, d) {
    if (d.texts.length === 0)
      throw new DnsWireError('bad-value', -1, 'TXT needs at least one character-string');
    for (const t of d.texts) w.charString(t);
  },
  decode(r) {
    if (r.remaining() === 0) throw new DnsWireError('bad-rdata', r.pos, 'empty TXT rdata');
    const texts: Uint8Array[] = [];
    while (r.remaining() > 0) texts.push(r.charString());
    return { texts };
  },
};

export const naptrCodec: WireCodec<NaptrData> = {
  encode(w, d) {
    w.u16(d.order);
    w.u16(d.preference);
    w.charString(utf8.encode(d.flags));
    w.charString(utf8.encode(d.services));
    w.charString(utf8.encode(d.regexp));
    // RFC 3403 4.1 / RFC 3597 4: never compressed; lowercased in canonical form (RFC 4034 6.2).
    w.name(d.replacement, false, true);
  },
  decode(r) {
    const order = r.u16();
    const preference = r.u16();
    const flags = readUtf8(r);
    const services = readUtf8(r);
    const regexp = readUtf8(r);
    return { order, preference, flags, services, regexp, replacement: r.name() };
  },
};

export const dsCodec: WireCodec<DsData> = {
  encode(w, d) {
    w.u16(d.keyTag);
    w.u8(d.algorithm);
    w.u8(d.digestType);
    w.bytes(d.digest);
  },
  decode(r) {
    return { keyTag: r.u16(), algorithm: r.u8(), digestType: r.u8(), digest: r.rest() };
  },
};

export const dnskeyCodec: WireCodec<DnskeyData> = {
  encode(w, d) {
    w.u16(d.flags);
    w.u8(d.protocol);
    w.u8(d.algorithm);
    w.bytes(d.publicKey);
  },
  decode(r) {
    return { flags: r.u16(), protocol: r.u8(), algorithm: r.u8(), publicKey: r.rest() };
  },
};

export const rrsigCodec: WireCodec<RrsigData> = {
  encode(w, d) {
    w.u16(d.typeCovered);
    w.u8(d.algorithm);
    w.u8(d.labels);
    w.u32(d.originalTtl);
    w.u32(d.expiration);
    w.u32(d.inception);
    w.u16(d.keyTag);
    w.name(d.signerName, false, true);
    w.bytes(d.signature);
  },
  decode(r) {
    return {
      typeCovered: r.u16(),
      algorithm: r.u8(),
      labels: r.u8(),
      originalTtl: r.u32(),
      expiration: r.u32(),
      inception: r.u32(),
      keyTag: r.u16(),
      signerName: r.name(),
      signature: r.rest(),
    };
  },
};

/** RFC 4034 4.1.2 type bitmap: windows in increasing order, 1..32 octets each. */
export function encodeTypeBitmap(w: Writer, types: readonly number[]): void {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  let i = 0;
  while (i < sorted.length) {
    const t0 = sorted[i] as number;
    if (!Number.isInteger(t0) || t0 < 0 || t0 > 0xffff)
      throw new DnsWireError('bad-value', -1, 'type in bitmap out of range');
    const window = t0 >>> 8;
    const bits = new Uint8Array(32);
    let maxOctet = 0;
    while (i < sorted.length && (sorted[i] as number) >>> 8 === window) {
      const t = sorted[i] as number;
      if (t > 0xffff) throw new DnsWireError('bad-value', -1, 'type in bitmap out of range');
      const low = t & 0xff;
      const octet = low >>> 3;
      bits[octet] = (bits[octet] as number) | (0x80 >>> (low & 7));
      if (octet > maxOctet) maxOctet = octet;
      i++;
    }
    w.u8(window);
    w.u8(maxOctet + 1);
    w.bytes(bits.subarray(0, maxOctet + 1));
  }
}

export function decodeTypeBitmap(r: Reader): number[] {
  const types: number[] = [];
  let lastWindow = -1;
  while (r.remaining() > 0) {
    const at = r.pos;
    const window = r.u8();
    const len = r.u8();
    if (window <= lastWindow)
      throw new DnsWireError('bad-rdata', at, 'type bitmap windows out of order');
    if (len < 1 || len > 32)
      throw new DnsWireError('bad-rdata', at, 'bad type bitmap window length');
    lastWindow = window;
    const bits = r.bytes(len);
    for (let o = 0; o < len; o++) {
      const b = bits[o] as number;
      for (let bit = 0; bit < 8; bit++)
        if (b & (0x80 >>> bit)) types.push((window << 8) | (o * 8 + bit));
    }
  }
  return types;
}

export const nsecCodec: WireCodec<NsecData> = {
  encode(w, d) {
    // RFC 6840 5.1: the next domain name is not lowercased in canonical form.
    w.name(d.nextDomainName, false, false);
    encodeTypeBitmap(w, d.types);
  },
  decode(r) {
    return { nextDomainName: r.name(), types: decodeTypeBitmap(r) };
  },
};

export const nsec3Codec: WireCodec<Nsec3Data> = {
  encode(w, d) {
    w.u8(d.hashAlgorithm);
    w.u8(d.flags);
    w.u16(d.iterations);
    w.charString(d.salt);
    w.charString(d.nextHashedOwner);
    encodeTypeBitmap(w, d.types);
  },
  decode(r) {
    const hashAlgorithm = r.u8();
    const flags = r.u8();
    const iterations = r.u16();
    const salt = r.charString();
    const nextHashedOwner = r.charString();
    if (nextHashedOwner.length === 0)
      throw new DnsWireError('bad-rdata', r.pos, 'empty NSEC3 next hashed owner');
    return { hashAlgorithm, flags, iterations, salt, nextHashedOwner, types: decodeTypeBitmap(r) };
  },
};

export const nsec3ParamCodec: WireCodec<Nsec3ParamData> = {
  encode(w, d) {
    w.u8(d.hashAlgorithm);
    w.u8(d.flags);
    w.u16(d.iterations);
    w.charString(d.salt);
  },
  decode(r) {
    return { hashAlgorithm: r.u8(), flags: r.u8(), iterations: r.u16(), salt: r.charString() };
  },
};

export const tsigCodec: WireCodec<TsigData> = {
  encode(w, d) {
    w.name(d.algorithm, false, true);
    w.u48(d.timeSigned);
    w.u16(d.fudge);
    w.u16(d.mac.length);
    w.bytes(d.mac);
    w.u16(d.originalId);
    w.u16(d.error);
    w.u16(d.otherData.length);
    w.bytes(d.otherData);
  },
  decode(r) {
    const algorithm = r.name();
    const timeSigned = r.u48();
    const fudge = r.u16();
    const mac = r.bytes(r.u16());
    const originalId = r.u16();
    const error = r.u16();
    const otherData = r.bytes(r.u16());
    return { algorithm, timeSigned, fudge, mac, originalId, error, otherData };
  },
};

export const caaCodec: WireCodec<CaaData> = {
  encode(w, d) {
    w.u8(d.flags);
    if (!/^[A-Za-z0-9]{1,255}$/.test(d.tag)) throw new DnsWireError('bad-value', -1, 'bad CAA tag');
    w.charString(utf8.encode(d.tag));
    w.bytes(d.value);
  },
  decode(r) {
    const flags = r.u8();
    const tagBytes = r.charString();
    const tag = String.fromCharCode(...tagBytes);
    if (!/^[A-Za-z0-9]{1,255}$/.test(tag))
      throw new DnsWireError('bad-rdata', r.pos, 'bad CAA tag');
    return { flags, tag, value: r.rest() };
  },
};

export const unknownCodec: WireCodec<UnknownData> = {
  encode(w, d) {
    w.bytes(d.raw);
  },
  decode(r) {
    return { raw: r.rest() };
  },
};

const codecs = new Map<number, WireCodec<never>>([
  [RRType.A, aCodec],
  [RRType.NS, nameCodec(true)],
  [RRType.CNAME, nameCodec(true)],
  [RRType.SOA, soaCodec],
  [RRType.PTR, nameCodec(true)],
  [RRType.MX, mxCodec],
  [RRType.TXT, txtCodec],
  [RRType.AAAA, aaaaCodec],
  [RRType.NAPTR, naptrCodec],
  [RRType.DNAME, nameCodec(false)],
  [RRType.DS, dsCodec],
  [RRType.CDS, dsCodec],
  [RRType.RRSIG, rrsigCodec],
  [RRType.NSEC, nsecCodec],
  [RRType.DNSKEY, dnskeyCodec],
  [RRType.CDNSKEY, dnskeyCodec],
  [RRType.NSEC3, nsec3Codec],
  [RRType.NSEC3PARAM, nsec3ParamCodec],
  [RRType.TSIG, tsigCodec],
  [RRType.CAA, caaCodec],
] as Array<[number, WireCodec<never>]>);

/** The codec for a TYPE, or the RFC 3597 raw codec. */
export function codecFor(type: number): WireCodec<unknown> {
  return (codecs.get(type) ?? unknownCodec) as unknown as WireCodec<unknown>;
}

export function hasTypedCodec(type: number): boolean {
  return codecs.has(type);
}
