// Value types and numeric constants of the DNS wire format (RFC 1035, RFC 6891, RFC 4034,
// RFC 5155, RFC 8945, RFC 3597). Everything here is plain data: no codecs, no state.

/** Resource record TYPE values (IANA "Resource Record (RR) TYPEs"). */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  CDS: 59,
  CDNSKEY: 60,
  /** RFC 9824 compact denial: pseudo-type set in an NSEC bitmap for a name that does not exist. */
  NXNAME: 128,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
  /** First TYPE value of the private-use range (RFC 6895 section 3.1). */
  PRIVATE_USE_MIN: 65280,
  /** Last TYPE value of the private-use range. */
  PRIVATE_USE_MAX: 65534,
} as const;

/** CLASS values. */
export const RRClass = {
  IN: 1,
  CH: 3,
  HS: 4,
  /** RFC 2136 section 2.4 (UPDATE "delete an RR from an RRset"). */
  NONE: 254,
  ANY: 255,
} as const;

/** OPCODE values (RFC 1035, RFC 1996, RFC 2136). */
export const Opcode = {
  QUERY: 0,
  IQUERY: 1,
  STATUS: 2,
  NOTIFY: 4,
  UPDATE: 5,
  DSO: 6,
} as const;

/**
 * RCODE values. Values above 15 only exist as an extended RCODE (EDNS OPT, RFC 6891 6.1.3) or in
 * a TSIG error field (RFC 8945); BADVERS and BADSIG share 16.
 */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADMODE: 19,
  BADNAME: 20,
  BADALG: 21,
  BADTRUNC: 22,
  BADCOOKIE: 23,
} as const;

/** EDNS(0) option codes (IANA "DNS EDNS0 Option Codes"). */
export const EdnsOptionCode = {
  NSID: 3,
  CLIENT_SUBNET: 8,
  COOKIE: 10,
  TCP_KEEPALIVE: 11,
  PADDING: 12,
  EXTENDED_ERROR: 15,
} as const;

/**
 * Bits of the EDNS flags field (RFC 6891 6.1.4). `Edns.dnssecOk` is DO; the others live in
 * `Edns.zFlags` (which excludes DO): CO = "compact answers OK" (RFC 9824 3.2).
 */
export const EdnsFlag = {
  DO: 0x8000,
  CO: 0x4000,
} as const;

/** A domain name in presentation form, always absolute (decoders emit a trailing dot). */
export type DomainName = string;

/** The DNS message header, as far as it can be read without parsing the rest. */
export interface HeaderFlags {
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  /** The reserved Z bit (RFC 1035 4.1.1); must be zero, preserved for round trips. */
  readonly z: boolean;
  /** RFC 4035 3.2.3. Never trust it for validation. */
  readonly ad: boolean;
  readonly cd: boolean;
}

/** What `peekHeader` can recover from any packet of at least 12 octets. */
export interface PeekedHeader extends HeaderFlags {
  readonly id: number;
  /** The 4-bit header RCODE (without extended bits). */
  readonly rcode: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
}

export interface Question {
  readonly name: DomainName;
  readonly type: number;
  readonly class: number;
}

/** One EDNS option (RFC 6891 6.1.2), left opaque. */
export interface EdnsOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/** The EDNS(0) OPT pseudo-record, parsed out of the additional section. */
export interface Edns {
  /** Requestor's UDP payload size (the OPT CLASS field). */
  readonly udpPayloadSize: number;
  /** EDNS version; only 0 is defined. */
  readonly version: number;
  /** The DO bit (RFC 3225). */
  readonly dnssecOk: boolean;
  /** The other 15 flag bits (Z), normally 0. Defaults to 0 when encoding. */
  readonly zFlags?: number;
  readonly options: readonly EdnsOption[];
}

/** A whole DNS message. */
export interface Message extends HeaderFlags {
  readonly id: number;
  /**
   * The full RCODE: the header's 4 bits plus, when `edns` is present, the OPT's upper 8 bits
   * (RFC 6891 6.1.3). Encoding a value > 15 without `edns` is an error.
   */
  readonly rcode: number;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  /** Additional records, without the OPT record (see `edns`). A TSIG record, if any, is last. */
  readonly additionals: readonly ResourceRecord[];
  readonly edns?: Edns;
}

// ---- Typed rdata (RFC 1035 3.3, RFC 3596, RFC 3403, RFC 4034, RFC 5155, RFC 8945) ----

export interface AData {
  /** Dotted quad. */
  readonly address: string;
}
export interface AaaaData {
  /** Any RFC 4291 text form; decoders emit the RFC 5952 canonical form. */
  readonly address: string;
}
/** NS, CNAME, PTR, DNAME: a single domain name. */
export interface NameData {
  readonly target: DomainName;
}
export interface SoaData {
  readonly mname: DomainName;
  readonly rname: DomainName;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}
export interface MxData {
  readonly preference: number;
  readonly exchange: DomainName;
}
export interface TxtData {
  /** The character-strings, each at most 255 octets. */
  readonly texts: readonly Uint8Array[];
}
export interface NaptrData {
  readonly order: number;
  readonly preference: number;
  /** UTF-8 text of each character-string (RFC 3403 4.1); each encodes to at most 255 octets. */
  readonly flags: string;
  readonly services: string;
  readonly regexp: string;
  /** Never compressed (RFC 3597 section 4). */
  readonly replacement: DomainName;
}
export interface DsData {
  readonly keyTag: number;
  readonly algorithm: number;
  readonly digestType: number;
  readonly digest: Uint8Array;
}
export interface DnskeyData {
  /** 256 = zone key (ZSK), 257 = zone key + SEP (KSK), +128 = REVOKE. */
  readonly flags: number;
  /** Always 3 (RFC 4034 2.1.2). */
  readonly protocol: number;
  readonly algorithm: number;
  readonly publicKey: Uint8Array;
}
export interface RrsigData {
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  /** Seconds since the epoch modulo 2^32 (RFC 4034 3.1.5), compare with serial arithmetic. */
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  /** Never compressed. */
  readonly signerName: DomainName;
  readonly signature: Uint8Array;
}
export interface NsecData {
  /** Never compressed (RFC 3597 section 4, RFC 6840 5.1: not lowercased either). */
  readonly nextDomainName: DomainName;
  /** The types present at the owner, as a sorted set (encoded as bitmap windows, RFC 4034 4.1.2). */
  readonly types: readonly number[];
}
export interface Nsec3Data {
  /** 1 = SHA-1 (RFC 5155 11). */
  readonly hashAlgorithm: number;
  /** Bit 0x01 = opt-out. */
  readonly flags: number;
  readonly iterations: number;
  readonly salt: Uint8Array;
  /** The raw hash (not base32hex). */
  readonly nextHashedOwner: Uint8Array;
  readonly types: readonly number[];
}
export interface Nsec3ParamData {
  readonly hashAlgorithm: number;
  readonly flags: number;
  readonly iterations: number;
  readonly salt: Uint8Array;
}
export interface TsigData {
  /** Algorithm name, e.g. `hmac-sha256.`. Never compressed. */
  readonly algorithm: DomainName;
  /** 48-bit seconds since the epoch. */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Uint8Array;
  readonly originalId: number;
  /** An RCODE (BADSIG, BADKEY, BADTIME, ...). */
  readonly error: number;
  readonly otherData: Uint8Array;
}
export interface CaaData {
  readonly flags: number;
  readonly tag: string;
  readonly value: Uint8Array;
}
/** Any type without a typed codec (RFC 3597): the rdata octets as they are. */
export interface UnknownData {
  readonly raw: Uint8Array;
}

/** Which rdata shape goes with which TYPE. */
export interface RdataByType {
  [RRType.A]: AData;
  [RRType.NS]: NameData;
  [RRType.CNAME]: NameData;
  [RRType.SOA]: SoaData;
  [RRType.PTR]: NameData;
  [RRType.MX]: MxData;
  [RRType.TXT]: TxtData;
  [RRType.AAAA]: AaaaData;
  [RRType.NAPTR]: NaptrData;
  [RRType.DNAME]: NameData;
  [RRType.DS]: DsData;
  [RRType.RRSIG]: RrsigData;
  [RRType.NSEC]: NsecData;
  [RRType.DNSKEY]: DnskeyData;
  [RRType.NSEC3]: Nsec3Data;
  [RRType.NSEC3PARAM]: Nsec3ParamData;
  [RRType.CDS]: DsData;
  [RRType.CDNSKEY]: DnskeyData;
  [RRType.TSIG]: TsigData;
  [RRType.CAA]: CaaData;
}

/** A TYPE with a typed rdata codec. */
export type KnownType = keyof RdataByType;

/** A resource record of one known TYPE. */
export interface RecordOf<T extends KnownType> {
  readonly name: DomainName;
  readonly type: T;
  readonly class: number;
  readonly ttl: number;
  readonly data: RdataByType[T];
}

/** A record of a TYPE without a typed codec (RFC 3597), kept as raw rdata. */
export interface UnknownRecord {
  readonly name: DomainName;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: UnknownData;
}

export type KnownRecord = { [T in KnownType]: RecordOf<T> }[KnownType];

/**
 * Any resource record. Narrow with `isRecordType(rr, RRType.X)` (a plain `rr.type === X` check
 * cannot exclude `UnknownRecord`, whose `type` is any number).
 */
export type ResourceRecord = KnownRecord | UnknownRecord;

export interface EncodeOptions {
  /**
   * Largest message to produce (e.g. the client's EDNS payload size, or 512). When the full
   * message does not fit, whole records are dropped from the end (additional, then authority,
   * then answer), TC is set when an answer or authority record had to go (RFC 2181 9), and the
   * question and OPT are always kept. Without it, a message over 65535 octets throws
   * `DnsWireError('too-large')`.
   */
  readonly maxSize?: number;
  /** Name compression (RFC 1035 4.1.4). Default true. */
  readonly compress?: boolean;
}

export interface DecodeOptions {
  /** Accept octets after the last record instead of failing with `trailing-data`. Default false. */
  readonly allowTrailingData?: boolean;
}

/** Options for parsing master-file (zone-file) text. */
export interface ZoneParseOptions {
  /** Initial $ORIGIN (absolute); default the root. */
  readonly origin?: DomainName;
  /** TTL when neither a record nor $TTL gives one; default 3600. */
  readonly defaultTtl?: number;
  /** CLASS when none is given; default IN. */
  readonly defaultClass?: number;
}
