import type { Database } from '@switchboard/db';
import { openDatabase } from '@switchboard/db';
import { createLogger } from '@switchboard/service-kit';
import { SwitchboardBridge } from '../../src/bridge.js';
import { parseBridgeConfig } from '../../src/config.js';
import type { Resolver } from '../../src/routing/routing.js';
import { NO_DIRECTORY } from '../../src/routing/routing.js';

/** Builds (not starts) a bridge over the given database with a silent logger. */
export async function makeBridge(
  config: Record<string, unknown>,
  database: Database<unknown>,
  resolver: Resolver = NO_DIRECTORY,
): Promise<SwitchboardBridge> {
  const parsed = parseBridgeConfig({
    databaseUrl: 'sqlite::memory:',
    retryIntervalMs: 300,
    http: { host: '127.0.0.1', port: 0 },
    ...config,
  });
  return SwitchboardBridge.create(parsed, {
    database,
    resolver,
    logger: createLogger({
      service: 'bridge-test',
      level: process.env['BRIDGE_TEST_LOG'] ?? 'silent',
    }),
  });
}

/** The XMPP server side a bridge connects to as a component (Prosody or ejabberd). */
export interface ComponentServer {
  readonly componentPort: number;
  readonly componentDomain: string;
  readonly componentSecret: string;
}

/** The SIP proxy side a bridge registers with (Kamailio). */
export interface SipProxy {
  readonly wsUrl: string;
  readonly domain: string;
  readonly bridgeUser: string;
}

/**
 * The configuration of the fault tests' bridge: XMPP and SIP, plaintext relay on (the test
 * users send text), a rate limit out of the way, short delivery timeouts and reconnects.
 */
export function faultTestConfig(xmpp: ComponentServer, sip: SipProxy): Record<string, unknown> {
  return {
    plaintextRelay: true,
    rateLimit: { capacity: 1000, perSeconds: 1 },
    deliveryTimeoutMs: 5000,
    xmpp: {
      service: `xmpp://127.0.0.1:${xmpp.componentPort}`,
      domain: xmpp.componentDomain,
      secret: xmpp.componentSecret,
      reconnectDelayMs: 300,
    },
    sip: {
      server: sip.wsUrl,
      domain: sip.domain,
      user: sip.bridgeUser,
      registerExpires: 60,
      reconnectDelayMs: 300,
    },
  };
}

/** A SQLite file database that survives a bridge restart within one test. */
export function fileDatabase(path: string): Promise<Database<unknown>> {
  return openDatabase<unknown>({ url: `sqlite:${path}` });
}

/** Random opaque bytes standing in for a Switchboard envelope (the bridge never parses it). */
export function randomEnvelope(size = 300): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[0] = 0x01;
  return bytes;
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
