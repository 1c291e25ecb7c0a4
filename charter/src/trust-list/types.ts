// The trust-list format. `schema.ts` is the contract that validates it; these types mirror it one
// to one (a test checks every schema property has a field here and the reverse).

/** RFC 3339 UTC timestamp with seconds and `Z`, e.g. `2026-11-22T00:00:00Z`. */
export type Timestamp = string;

/** Accreditation status. `revoked` is final: the CLI refuses to reinstate a revoked entry. */
export type EntryStatus = 'active' | 'suspended' | 'revoked';

/** Networks a provider serves; `mailbox` is key-addressed delivery for unregulated mode. */
export type Network = 'sip' | 'xmpp' | 'matrix' | 'mailbox';

export const NETWORKS: readonly Network[] = ['sip', 'xmpp', 'matrix', 'mailbox'];
export const ENTRY_STATUSES: readonly EntryStatus[] = ['active', 'suspended', 'revoked'];

/** An Ed25519 public key as carried in the list. */
export interface PublicKeyRecord {
  /** Lower-case hex SHA-256 of the raw 32-byte public key. */
  readonly keyid: string;
  /** Raw 32-byte Ed25519 public key, standard base64. */
  readonly publicKey: string;
}

/** One member of the governing board. */
export interface BoardKey extends PublicKeyRecord {
  /** Who holds the key (a person or role), shown by the CLI. */
  readonly name: string;
}

/** The board: its keys and how many distinct ones must sign a list. */
export interface Board {
  readonly threshold: number;
  readonly keys: readonly BoardKey[];
}

/** A DS record (RFC 4034 section 5) for the directory's apex, digest in hex (either case, as DNS tools print it). */
export interface DsTrustAnchor {
  readonly type: 'DS';
  readonly keyTag: number;
  readonly algorithm: number;
  readonly digestType: number;
  readonly digest: string;
}

/** A DNSKEY record (RFC 4034 section 2) for the directory's apex, key in base64. */
export interface DnskeyTrustAnchor {
  readonly type: 'DNSKEY';
  readonly flags: number;
  readonly protocol: 3;
  readonly algorithm: number;
  readonly publicKey: string;
}

export type TrustAnchor = DsTrustAnchor | DnskeyTrustAnchor;

/** An ENUM directory the board recognises. */
export interface DirectoryEntry {
  /** Stable id, lower-case DNS-label-like: `[a-z0-9][a-z0-9.-]*`. */
  readonly id: string;
  /** The non-profit that operates it. */
  readonly operator: string;
  /** ENUM apex, absolute, lower-case, e.g. `e164.switchboard.test.` */
  readonly apex: string;
  /** DNSSEC trust anchors for the apex; validation must chain to one of them. */
  readonly trustAnchors: readonly TrustAnchor[];
  /** Where the directory answers DNS: `host:port` (IPv6 in brackets). */
  readonly nameservers: readonly string[];
  /** Base URL of the publish API (providers publish here). */
  readonly publishEndpoint: string;
  readonly status: EntryStatus;
  /** Why the status is what it is (shown to operators; never personal data). */
  readonly statusReason?: string;
}

/** A provider's accreditation period. */
export interface AccreditationWindow {
  readonly notBefore: Timestamp;
  readonly notAfter: Timestamp;
}

/** An accredited service provider. */
export interface ProviderEntry {
  readonly id: string;
  /** Name shown to users. */
  readonly name: string;
  /** Base URL of its provider API (prekey bundles, mailboxes). */
  readonly apiBaseUrl: string;
  /**
   * Ed25519 keys it signs directory publish requests with (RFC 9421 `keyid` = the record's keyid).
   * More than one only while rolling a key over.
   */
  readonly publishingKeys: readonly PublicKeyRecord[];
  readonly networks: readonly Network[];
  readonly accreditation: AccreditationWindow;
  readonly status: EntryStatus;
  readonly statusReason?: string;
}

/** The signed body of a trust list. */
export interface TrustListBody {
  readonly type: 'switchboard-trust-list';
  /** Format version; this library reads 1. */
  readonly specVersion: 1;
  /** Monotonic: a verifier never accepts a lower one than it has seen. */
  readonly version: number;
  readonly issuedAt: Timestamp;
  /** After this instant the list must not be used (freeze-attack protection). */
  readonly expires: Timestamp;
  readonly board: Board;
  readonly directories: readonly DirectoryEntry[];
  readonly providers: readonly ProviderEntry[];
}

/** One board member's Ed25519 signature over the canonical (RFC 8785) bytes of `signed`. */
export interface TrustListSignature {
  readonly keyid: string;
  /** 64-byte Ed25519 signature, standard base64. */
  readonly sig: string;
}

/** The envelope as stored and shipped (TUF-style): the body and the detached signatures. */
export interface SignedTrustList {
  readonly signed: TrustListBody;
  readonly signatures: readonly TrustListSignature[];
}

declare const verifiedBrand: unique symbol;

/**
 * A list whose signatures, threshold, version and expiry have been checked by
 * `verifyTrustList`. Only that function makes one, so `mayTrust*` cannot be handed an
 * unchecked list by mistake.
 */
export interface VerifiedTrustList {
  readonly [verifiedBrand]: true;
  readonly envelope: SignedTrustList;
  readonly body: TrustListBody;
  readonly version: number;
  readonly expires: Date;
  /** Lower-case hex SHA-256 of the canonical body: names this exact version. */
  readonly digest: string;
  /** Keyids of the board keys whose valid signatures were counted. */
  readonly signedBy: readonly string[];
}
