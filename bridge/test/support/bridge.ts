import type { Database } from '@switchboard/db';
import { openDatabase } from '@switchboard/db';
import { createLogger } from '@switchboard/service-kit';
import { SwitchboardBridge } from '../../src/bridge.js';
import { parseBridgeConfig } from '../../src/config.js';
import type { Resolver } from '../../src/routing.js';
import { NO_DIRECTORY } from '../../src/routing.js';

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
