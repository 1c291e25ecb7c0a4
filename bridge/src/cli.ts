#!/usr/bin/env node
// switchboard-bridge: operator commands. `registration` writes the application-service
// registration file a homeserver loads (Application Service API §Registration).
import { chmodSync } from 'node:fs';
import { loadBridgeConfig } from './config.js';
import { buildRegistration } from './networks/matrix-network.js';
import { BridgeError } from './model/errors.js';

function usage(): never {
  console.error(
    'usage: switchboard-bridge registration --config <bridge.json> --url <AS url as the homeserver sees it> --out <registration.yaml>',
  );
  process.exit(2);
}

function main(argv: readonly string[]): void {
  const [command, ...rest] = argv;
  if (command !== 'registration') usage();
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i];
    const value = rest[i + 1];
    if (!key?.startsWith('--') || value === undefined) usage();
    opts.set(key.slice(2), value);
  }
  const configPath = opts.get('config');
  const out = opts.get('out');
  if (!configPath || !out) usage();
  const config = loadBridgeConfig(configPath);
  if (!config.matrix) {
    console.error('switchboard-bridge: the config has no matrix section');
    process.exit(1);
  }
  const url = opts.get('url') ?? `http://${config.http.host}:${config.http.port}`;
  const registration = buildRegistration(config.matrix, url);
  registration.outputAsYaml(out);
  chmodSync(out, 0o600);
  console.log(`switchboard-bridge: wrote ${out} (contains both tokens: keep it private)`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`switchboard-bridge: ${BridgeError.is(err) ? err.message : 'failed'}`);
  process.exit(1);
}
