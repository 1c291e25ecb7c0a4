// Constants and value types of @switchboard/dnssec.
import type { KeyObject } from 'node:crypto';
import type {
  DnskeyData,
  DomainName,
  DsData,
  Message,
  RecordOf,
  ResourceRecord,
  RrsigData,
  RRType,
} from '@switchboard/dns-wire';

/** DNSSEC algorithm numbers (IANA). Signing supports 13 and 15. */
export const DnssecAlgorithm = {
  RSASHA256: 8,
  RSASHA512: 10,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
} as const;
export type SigningAlgorithm =
  typeof DnssecAlgorithm.ECDSAP256SHA256 | typeof DnssecAlgorithm.ED25519;

/** DS digest types (IANA). */
export const DigestType = { SHA1: 1, SHA256: 2, SHA384: 4 } as const;

/** DNSKEY flag values (RFC 4034 2.1.1, RFC 5011). */
export const DnskeyFlag = { ZONE: 256, SEP: 1, REVOKE: 128, ZSK: 256, KSK: 257 } as const;

export type RrsigRecord = RecordOf<typeof RRType.RRSIG>;
export type DnskeyRecord = RecordOf<typeof RRType.DNSKEY>;
export type NsecRecord = RecordOf<typeof RRType.NSEC>;

/** A private key ready to sign, with its DNSKEY rdata and key tag computed once. */
export interface SigningKey {
  readonly algorithm: SigningAlgorithm;
  readonly flags: number;
  readonly dnskey: DnskeyData;
  readonly keyTag: number;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export interface KeyOptions {
  /** DNSKEY flags; default 257 (KSK/CSK). Use 256 for a ZSK. */
  readonly flags?: number;
}

export interface SignOptions {
  /** The zone apex that signs (RRSIG signer name). */
  readonly signer: DomainName;
  readonly inception: Date;
  readonly expiration: Date;
  /** Default: the TTL of the RRset's records. */
  readonly originalTtl?: number;
}

/** Why one RRSIG does not validate one RRset with one DNSKEY. */
export type VerifyFailure =
  | 'empty-rrset'
  | 'rrset-inconsistent'
  | 'type-mismatch'
  | 'wrong-signer'
  | 'signature-expired'
  | 'signature-not-yet-valid'
  | 'key-tag-mismatch'
  | 'algorithm-mismatch'
  | 'algorithm-unsupported'
  | 'dnskey-not-zone-key'
  | 'dnskey-revoked'
  | 'labels-invalid'
  | 'signature-invalid';

export type VerifyResult =
  | {
      readonly ok: true;
      /** Set when the RRset was synthesised from a wildcard (RRSIG labels < owner labels). */
      readonly wildcard?: DomainName;
    }
  | { readonly ok: false; readonly reason: VerifyFailure };

/** A trust anchor for a zone apex: DS digests (from the parent / trust list) or DNSKEYs. */
export type TrustAnchor =
  | { readonly zone: DomainName; readonly ds: readonly DsData[] }
  | { readonly zone: DomainName; readonly dnskeys: readonly DnskeyData[] };

/** Why a response is bogus. */
export type BogusReason =
  | 'trust-anchor-invalid'
  | 'dnskey-missing'
  | 'dnskey-not-trusted'
  | 'ds-mismatch'
  | 'no-signature'
  | 'signature-expired'
  | 'signature-not-yet-valid'
  | 'signature-invalid'
  | 'wrong-signer'
  | 'key-tag-mismatch'
  | 'algorithm-unsupported'
  | 'labels-invalid'
  | 'out-of-zone'
  | 'question-mismatch'
  | 'unexpected-rcode'
  | 'answer-missing'
  | 'wildcard-proof-missing'
  | 'denial-missing'
  | 'denial-does-not-cover-name'
  | 'denial-type-present'
  | 'denial-wrong-zone'
  | 'nsec3-closest-encloser-missing'
  | 'nsec3-unsupported'
  | 'nsec3-iterations-too-high'
  | 'denial-wildcard-not-covered'
  /** A name or value in the input that cannot be a DNS name/record (never from decodeMessage). */
  | 'malformed-input';

/** What proved a denial. */
export interface DenialProof {
  /** `nsec-compact` = RFC 9824 (NXNAME in the bitmap of an NSEC at the query name). */
  readonly method: 'nsec' | 'nsec-compact' | 'nsec3';
  /** The validated NSEC/NSEC3 records used in the proof. */
  readonly records: readonly ResourceRecord[];
  /** NSEC3 only: the closest encloser that was proven. */
  readonly closestEncloser?: DomainName;
}

export type ValidationResult =
  | {
      readonly status: 'secure';
      readonly rrset: readonly ResourceRecord[];
      readonly rrsigs: readonly RrsigRecord[];
      readonly wildcard?: DomainName;
    }
  | {
      readonly status: 'secure-denial';
      readonly kind: 'nxdomain' | 'nodata';
      readonly proof: DenialProof;
    }
  | { readonly status: 'bogus'; readonly reason: BogusReason; readonly detail?: string };

export interface ValidateResponseInput {
  readonly trustAnchor: TrustAnchor;
  /** The apex DNSKEY RRset with its RRSIGs (as fetched; DNSKEY and RRSIG records mixed). */
  readonly dnskeyRrset: readonly ResourceRecord[];
  readonly response: Message;
  readonly qname: DomainName;
  readonly qtype: number;
  readonly now: Date;
  /** NSEC3 iterations above this are bogus (RFC 9276 3.2); default 150. */
  readonly maxNsec3Iterations?: number;
}

export type DnskeyValidation =
  | { readonly status: 'secure'; readonly keys: readonly DnskeyData[] }
  | { readonly status: 'bogus'; readonly reason: BogusReason };

export interface ZoneSignOptions {
  readonly origin: DomainName;
  readonly inception: Date;
  readonly expiration: Date;
  /** NSEC3 salt; default empty (RFC 9276). */
  readonly salt?: Uint8Array;
  /** NSEC3 extra iterations; default 0 (RFC 9276). */
  readonly iterations?: number;
  /** TTL of NSEC3/NSEC3PARAM records; default min(SOA minimum, SOA TTL) (RFC 9077). */
  readonly nsec3Ttl?: number;
  /** TTL of the DNSKEY RRset added at the apex; default the SOA TTL. */
  readonly dnskeyTtl?: number;
  /** Signatures to keep from an earlier signing (see {@link SignatureMemo}). */
  readonly memo?: SignatureMemo;
}

/**
 * Signatures kept from one signing of a zone to the next, so that two versions differ (in an
 * IXFR) only where their content does. An RRset covered in `previous` by the same key, with
 * the same owner, type, TTL and data, whose signature expires after `keepUntil`, gets that
 * RRSIG again instead of a new one (ECDSA signatures differ every time they are made). This
 * signing's RRSIGs are put in `next`, for the one after.
 */
export interface SignatureMemo {
  readonly previous: ReadonlyMap<string, RrsigData>;
  readonly next: Map<string, RrsigData>;
  /** Seconds since the epoch. */
  readonly keepUntil: number;
}

export interface OnlineDenialOptions {
  readonly ttl: number;
}
