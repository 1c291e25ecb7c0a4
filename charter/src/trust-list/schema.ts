// JSON Schema (Draft 2020-12) of the trust-list envelope: the one contract for the format.
// `additionalProperties: false` everywhere, so an unknown field is refused rather than ignored
// (an ignored field is one a signer may not have meant to sign and a verifier may not enforce).
// `npm run schema` in charter/ writes it to trust-list.schema.json for other tools.

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const base64 = {
  type: 'string',
  pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
} as const;
const timestamp = {
  type: 'string',
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$',
} as const;
const id = { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{0,62}$' } as const;
const label = { type: 'string', minLength: 1, maxLength: 200 } as const;
const reason = { type: 'string', minLength: 1, maxLength: 500 } as const;
const url = { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 2048 } as const;
const status = { enum: ['active', 'suspended', 'revoked'] } as const;
const u8 = { type: 'integer', minimum: 0, maximum: 255 } as const;

export const TRUST_LIST_SCHEMA_ID = 'https://switchboard.test/schemas/trust-list-1.json';

/** The trust-list JSON Schema, as a value (ajv compiles it; the CLI prints it). */
export const trustListSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: TRUST_LIST_SCHEMA_ID,
  title: 'Switchboard trust list',
  description:
    'Which ENUM directories and providers the board recognises, signed k-of-n with Ed25519 over the RFC 8785 canonical form of `signed`.',
  type: 'object',
  additionalProperties: false,
  required: ['signed', 'signatures'],
  properties: {
    signed: { $ref: '#/$defs/body' },
    signatures: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['keyid', 'sig'],
        properties: {
          keyid: hex64,
          sig: { ...base64, minLength: 88, maxLength: 88 },
        },
      },
    },
  },
  $defs: {
    publicKey: {
      type: 'object',
      additionalProperties: false,
      required: ['keyid', 'publicKey'],
      properties: {
        keyid: hex64,
        publicKey: { ...base64, minLength: 44, maxLength: 44 },
      },
    },
    boardKey: {
      type: 'object',
      additionalProperties: false,
      required: ['keyid', 'publicKey', 'name'],
      properties: {
        keyid: hex64,
        publicKey: { ...base64, minLength: 44, maxLength: 44 },
        name: label,
      },
    },
    trustAnchor: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['DS', 'DNSKEY'] } },
      discriminator: { propertyName: 'type' },
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'keyTag', 'algorithm', 'digestType', 'digest'],
          properties: {
            type: { const: 'DS' },
            keyTag: { type: 'integer', minimum: 0, maximum: 65535 },
            algorithm: u8,
            digestType: u8,
            digest: { type: 'string', pattern: '^[0-9a-fA-F]{40,128}$' },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'flags', 'protocol', 'algorithm', 'publicKey'],
          properties: {
            type: { const: 'DNSKEY' },
            flags: { type: 'integer', minimum: 0, maximum: 65535 },
            protocol: { const: 3 },
            algorithm: u8,
            publicKey: { ...base64, minLength: 4, maxLength: 4096 },
          },
        },
      ],
    },
    directory: {
      type: 'object',
      additionalProperties: false,
      required: [
        'id',
        'operator',
        'apex',
        'trustAnchors',
        'nameservers',
        'publishEndpoint',
        'status',
      ],
      properties: {
        id,
        operator: label,
        apex: {
          type: 'string',
          maxLength: 253,
          pattern: '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+$',
        },
        trustAnchors: {
          type: 'array',
          minItems: 1,
          maxItems: 8,
          items: { $ref: '#/$defs/trustAnchor' },
        },
        nameservers: {
          type: 'array',
          minItems: 1,
          maxItems: 16,
          uniqueItems: true,
          items: {
            type: 'string',
            maxLength: 300,
            pattern: '^(?:\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$',
          },
        },
        publishEndpoint: url,
        status,
        statusReason: reason,
      },
    },
    provider: {
      type: 'object',
      additionalProperties: false,
      required: [
        'id',
        'name',
        'apiBaseUrl',
        'publishingKeys',
        'networks',
        'accreditation',
        'status',
      ],
      properties: {
        id,
        name: label,
        apiBaseUrl: url,
        publishingKeys: {
          type: 'array',
          minItems: 1,
          maxItems: 4,
          items: { $ref: '#/$defs/publicKey' },
        },
        networks: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { enum: ['sip', 'xmpp', 'matrix', 'mailbox'] },
        },
        accreditation: {
          type: 'object',
          additionalProperties: false,
          required: ['notBefore', 'notAfter'],
          properties: { notBefore: timestamp, notAfter: timestamp },
        },
        status,
        statusReason: reason,
      },
    },
    body: {
      type: 'object',
      additionalProperties: false,
      required: [
        'type',
        'specVersion',
        'version',
        'issuedAt',
        'expires',
        'board',
        'directories',
        'providers',
      ],
      properties: {
        type: { const: 'switchboard-trust-list' },
        specVersion: { const: 1 },
        version: { type: 'integer', minimum: 1, maximum: 9007199254740991 },
        issuedAt: timestamp,
        expires: timestamp,
        board: {
          type: 'object',
          additionalProperties: false,
          required: ['threshold', 'keys'],
          properties: {
            threshold: { type: 'integer', minimum: 1, maximum: 64 },
            keys: {
              type: 'array',
              minItems: 1,
              maxItems: 64,
              items: { $ref: '#/$defs/boardKey' },
            },
          },
        },
        directories: { type: 'array', maxItems: 1000, items: { $ref: '#/$defs/directory' } },
        providers: { type: 'array', maxItems: 10000, items: { $ref: '#/$defs/provider' } },
      },
    },
  },
} as const;
