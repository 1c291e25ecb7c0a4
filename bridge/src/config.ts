import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { JSONSchemaType } from 'ajv';
import { BridgeError } from './model/errors.js';
import type { XmppConfig } from './networks/xmpp-network.js';
import type { SipConfig } from './networks/sip/sip-network.js';
import type { MatrixConfig } from './networks/matrix-network.js';
import type { DirectoryConfig } from './routing/directory-resolver.js';

/** The bridge's whole configuration: one object, validated by {@link BRIDGE_CONFIG_SCHEMA}. */
export interface BridgeConfig {
  /** `DATABASE_URL`-style (`sqlite:...`, `postgres://...`); `default` = `sqlite:<dataDir>/bridge.db`. */
  readonly databaseUrl: string;
  /** Relay plaintext to/from clients without Switchboard, marked end-to-bridge. Default false. */
  readonly plaintextRelay: boolean;
  /** Per remote user message limit. */
  readonly rateLimit: { readonly capacity: number; readonly perSeconds: number };
  /** How often undelivered messages are retried (ms). */
  readonly retryIntervalMs: number;
  /** Longest one delivery attempt may take before it counts as failed and is retried (ms). */
  readonly deliveryTimeoutMs: number;
  /** `/health` reports a network unhealthy once its queue has not moved for this long (ms). */
  readonly stuckAfterMs: number;
  /** Where the application-service endpoint and `/health` listen. */
  readonly http: { readonly host: string; readonly port: number };
  /**
   * Where `GET /metrics` listens, apart from `http` (keep it off public networks). Default
   * 127.0.0.1:9001, or any free port when `http.port` is 0.
   */
  readonly metrics?: { readonly host: string; readonly port: number };
  readonly xmpp?: XmppConfig;
  readonly sip?: SipConfig;
  readonly matrix?: MatrixConfig;
  /** How phone numbers are resolved; without it every number is unknown. */
  readonly directory?: DirectoryConfig;
}

/** The one schema; defaults are filled in by validation. */
export const BRIDGE_CONFIG_SCHEMA: JSONSchemaType<BridgeConfig> = {
  type: 'object',
  additionalProperties: false,
  required: [
    'databaseUrl',
    'plaintextRelay',
    'rateLimit',
    'retryIntervalMs',
    'deliveryTimeoutMs',
    'stuckAfterMs',
    'http',
  ],
  properties: {
    databaseUrl: { type: 'string', minLength: 1, default: 'default' },
    plaintextRelay: { type: 'boolean', default: false },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      required: ['capacity', 'perSeconds'],
      properties: {
        capacity: { type: 'integer', minimum: 1, default: 30 },
        perSeconds: { type: 'number', exclusiveMinimum: 0, default: 60 },
      },
      default: { capacity: 30, perSeconds: 60 },
    },
    retryIntervalMs: { type: 'integer', minimum: 100, default: 5000 },
    deliveryTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 30_000 },
    stuckAfterMs: { type: 'integer', minimum: 1000, default: 60_000 },
    http: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 9000 },
      },
      default: { host: '127.0.0.1', port: 9000 },
    },
    metrics: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    xmpp: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['service', 'domain', 'secret', 'reconnectDelayMs'],
      properties: {
        service: { type: 'string', pattern: '^xmpps?://' },
        domain: { type: 'string', pattern: '^[a-z0-9.-]+$' },
        secret: { type: 'string', minLength: 8 },
        reconnectDelayMs: { type: 'integer', minimum: 100, default: 2000 },
      },
    },
    sip: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['server', 'domain', 'user', 'registerExpires', 'reconnectDelayMs'],
      properties: {
        server: { type: 'string', pattern: '^wss?://' },
        domain: { type: 'string', pattern: '^[a-z0-9.-]+$' },
        user: { type: 'string', pattern: '^[a-z0-9._-]+$' },
        password: { type: 'string', nullable: true },
        registerExpires: { type: 'integer', minimum: 30, default: 300 },
        reconnectDelayMs: { type: 'integer', minimum: 100, default: 2000 },
        maxBodyBytes: {
          type: 'integer',
          nullable: true,
          minimum: 1024,
          maximum: 60000,
          default: 8192,
        },
      },
    },
    directory: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['trustListPath', 'boardFingerprint'],
      properties: {
        trustListPath: { type: 'string', minLength: 1 },
        boardFingerprint: { type: 'string', minLength: 8 },
        nameservers: {
          type: 'array',
          nullable: true,
          items: { type: 'string', pattern: '^[^\\s]+:[0-9]{1,5}$' },
        },
      },
    },
    matrix: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: [
        'homeserverUrl',
        'domain',
        'id',
        'asToken',
        'hsToken',
        'senderLocalpart',
        'ghostPrefix',
        'probeIntervalMs',
        'eventRetryBudgetMs',
      ],
      properties: {
        homeserverUrl: { type: 'string', pattern: '^https?://' },
        domain: { type: 'string', pattern: '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$' },
        id: { type: 'string', minLength: 1, default: 'switchboard' },
        asToken: { type: 'string', minLength: 16 },
        hsToken: { type: 'string', minLength: 16 },
        senderLocalpart: {
          type: 'string',
          pattern: '^[a-z0-9._=/-]+$',
          default: 'switchboardbot',
        },
        ghostPrefix: { type: 'string', pattern: '^[a-z0-9._=/-]+$', default: '_switchboard_' },
        probeIntervalMs: { type: 'integer', minimum: 100, default: 5000 },
        eventRetryBudgetMs: { type: 'integer', minimum: 100, default: 900_000 },
      },
    },
  },
};

/**
 * Validates a config object (e.g. parsed from the JSON file), filling defaults. Throws
 * `invalid-config` naming the first wrong field; secrets never appear in the message.
 */
export function parseBridgeConfig(input: unknown): BridgeConfig {
  const ajv = new Ajv({ useDefaults: true, allErrors: false });
  const validate = ajv.compile(BRIDGE_CONFIG_SCHEMA);
  const copy: unknown = structuredClone(input);
  if (!validate(copy)) {
    const e = validate.errors?.[0];
    throw new BridgeError(
      'invalid-config',
      `bridge config ${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}`,
    );
  }
  checkMatrixNamespaces(copy.matrix);
  return copy;
}

/**
 * The bot must lie outside the ghosts' exclusive namespace: a bot inside it is taken for a
 * ghost of a remote party that cannot exist, so inviting it could never work.
 */
function checkMatrixNamespaces(matrix: MatrixConfig | undefined): void {
  if (matrix && matrix.senderLocalpart.startsWith(matrix.ghostPrefix)) {
    throw new BridgeError(
      'invalid-config',
      'bridge config /matrix/senderLocalpart must not start with /matrix/ghostPrefix (the bot would be inside the ghost namespace)',
    );
  }
}

/** Reads and validates a JSON config file. */
export function loadBridgeConfig(path: string): BridgeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BridgeError('invalid-config', 'bridge config file is missing or not JSON', {
      cause: err,
    });
  }
  return parseBridgeConfig(raw);
}
