import type { ResourceRecord } from '@switchboard/dns-wire';
import { RRClass, RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';

/** The contact methods a number can publish, in NAPTR service form `E2U+<service>`. */
export type ContactService = 'sip' | 'xmpp' | 'matrix';

/** One contact method of a number. */
export interface Contact {
  readonly service: ContactService;
  readonly uri: string;
}

/** What the directory holds for one published number. */
export interface NumberEntry {
  readonly number: E164Number;
  readonly provider: string;
  /** libsignal identity public key, standard base64 (33 bytes serialised). */
  readonly identityKey: string;
  readonly contacts: readonly Contact[];
  /** The zone serial that first contained this version. */
  readonly serial: number;
  /** Seconds since the epoch. */
  readonly updatedAt: number;
}

/** A refused publish input; `code` matches the problem codes of openapi/directory.yaml. */
export class RecordInputError extends Error {
  override readonly name = 'RecordInputError';
  constructor(
    readonly code: 'invalid-identity-key' | 'invalid-contact' | 'invalid-body',
    message: string,
  ) {
    super(message);
  }
}

export const PROVIDER_ID = /^[a-z0-9][a-z0-9.-]{0,63}$/;
const IDENTITY_KEY = /^[A-Za-z0-9+/]{44}$/;
// Forbidden in URIs so the NAPTR regexp `!^.*$!<uri>!` never needs escaping (docs/directory-records.md).
const URI_FORBIDDEN = /[\s!\\]/;
const hasControl = (text: string): boolean =>
  [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
const URI_SHAPES: Readonly<Record<ContactService, RegExp>> = {
  sip: /^sips?:[^@:/]+@[a-z0-9.-]+(:[0-9]{1,5})?(;[^;]+)*$/i,
  xmpp: /^xmpp:[^@/]+@[a-z0-9.-]+(\/.+)?$/i,
  // Matrix spec appendix "Matrix URI scheme": matrix:u/<localpart>:<server name>.
  matrix: /^matrix:u\/[a-z0-9._=\-/+]+:[a-z0-9.-]+(:[0-9]{1,5})?$/,
};

/** Checks a libsignal identity key: base64 of 33 bytes whose first byte is the type 0x05. */
export function checkIdentityKey(value: unknown): string {
  if (typeof value !== 'string' || !IDENTITY_KEY.test(value)) {
    throw new RecordInputError(
      'invalid-identity-key',
      'identityKey must be a libsignal public key (33 bytes) in standard base64',
    );
  }
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== 33 || bytes[0] !== 0x05) {
    throw new RecordInputError(
      'invalid-identity-key',
      'identityKey must be a Curve25519 key serialised by libsignal (first byte 0x05)',
    );
  }
  return value;
}

/** Checks the ordered contact list: 1 to 3 entries, one per service, well-formed URIs. */
export function checkContacts(value: unknown): Contact[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > 3) {
    throw new RecordInputError('invalid-contact', 'contacts must be a list of 1 to 3 entries');
  }
  const seen = new Set<string>();
  return value.map((item: unknown, index): Contact => {
    if (typeof item !== 'object' || item === null) {
      throw new RecordInputError('invalid-contact', `contacts[${index}] must be an object`);
    }
    const { service, uri, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0) {
      throw new RecordInputError(
        'invalid-contact',
        `contacts[${index}] may only have service and uri`,
      );
    }
    if (service !== 'sip' && service !== 'xmpp' && service !== 'matrix') {
      throw new RecordInputError(
        'invalid-contact',
        `contacts[${index}].service must be sip, xmpp or matrix`,
      );
    }
    if (seen.has(service)) {
      throw new RecordInputError('invalid-contact', `contacts list ${service} more than once`);
    }
    seen.add(service);
    if (
      typeof uri !== 'string' ||
      uri.length < 5 ||
      uri.length > 200 ||
      URI_FORBIDDEN.test(uri) ||
      hasControl(uri) ||
      !URI_SHAPES[service].test(uri)
    ) {
      throw new RecordInputError(
        'invalid-contact',
        `contacts[${index}].uri must be a ${service === 'matrix' ? 'matrix:u/<localpart>:<server>' : `${service}:user@host`} URI without spaces, "!" or "\\"`,
      );
    }
    return { service, uri };
  });
}

/** NAPTR services per contact service (one string each, shared by every record). */
const SERVICES: Readonly<Record<ContactService, string>> = {
  sip: 'E2U+sip',
  xmpp: 'E2U+xmpp',
  matrix: 'E2U+matrix',
};

/** Default TTL of a number's records (docs/directory-records.md). */
export const RECORD_TTL = 300;

/** The `sbkey1` TXT text for an entry (docs/directory-records.md). */
export function sbkeyText(identityKey: string, provider: string): string {
  return `v=sbkey1; k=${identityKey}; p=${provider}`;
}

/**
 * The unsigned records published for a number: one NAPTR per contact (order 100, preference 10,
 * 20, 30 in the provider's order; RFC 6116 3.2.3 regexp form) and the `sbkey1` TXT.
 */
export function recordsForEntry(
  entry: Pick<NumberEntry, 'number' | 'provider' | 'identityKey' | 'contacts'>,
  apex: string,
  ttl: number = RECORD_TTL,
  /** The entry's ENUM name under `apex`, when the caller has it already. */
  name: string = enumNameFor(entry.number, apex),
): ResourceRecord[] {
  const naptrs: ResourceRecord[] = entry.contacts.map((c, i) => ({
    name,
    type: RRType.NAPTR,
    class: RRClass.IN,
    ttl,
    data: {
      order: 100,
      preference: 10 * (i + 1),
      flags: 'u',
      services: SERVICES[c.service],
      regexp: `!^.*$!${c.uri}!`,
      replacement: '.',
    },
  }));
  const txt: ResourceRecord = {
    name,
    type: RRType.TXT,
    class: RRClass.IN,
    ttl,
    data: { texts: [new TextEncoder().encode(sbkeyText(entry.identityKey, entry.provider))] },
  };
  return [...naptrs, txt];
}
