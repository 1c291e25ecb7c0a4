// The embedded stack: starts every part that exists, each on 127.0.0.1, and prints where each
// listens. Parts export `startService(context)` from `<part>/dist/src/service.js`
// (see packages/service-kit/src/service.ts). Order matters: later parts may use earlier ones.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const PARTS = ['directory', 'provider-api', 'bridge'];
const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.SWITCHBOARD_DATA_DIR ?? resolve(root, 'data'));

// One configuration file for the whole stack: SWITCHBOARD_CONFIG names a JSON object with a
// section per part; each section becomes that part's own config file (the variable below), which
// the part checks at start with errors naming the key and the reason. Variables set in the
// environment override the file.
const CONFIG_FILE_VARIABLE = {
  directory: 'DIRECTORY_CONFIG_FILE',
  'provider-api': 'PROVIDER_CONFIG_FILE',
  bridge: 'SWITCHBOARD_BRIDGE_CONFIG',
};

function configError(reason) {
  console.error(`switchboard: SWITCHBOARD_CONFIG ${reason}`);
  process.exit(2);
}

/** The environment each part starts with: process.env plus its section of SWITCHBOARD_CONFIG. */
function partEnvironments() {
  const path = process.env.SWITCHBOARD_CONFIG;
  const envs = Object.fromEntries(PARTS.map((part) => [part, process.env]));
  if (!path) return envs;
  let config;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    configError('names a file that is missing or not JSON');
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    configError('must hold a JSON object with a section per part');
  const dir = join(dataDir, '.config');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [part, section] of Object.entries(config)) {
    const variable = CONFIG_FILE_VARIABLE[part];
    if (!variable) configError(`section "${part}" is not a part (${PARTS.join(', ')})`);
    if (typeof section !== 'object' || section === null || Array.isArray(section))
      configError(`section "${part}" must be a JSON object`);
    if (process.env[variable])
      configError(`section "${part}" and ${variable} both configure ${part}: use one`);
    const file = join(dir, `${part}.json`);
    writeFileSync(file, JSON.stringify(section), { mode: 0o600 });
    envs[part] = { ...process.env, [variable]: file };
  }
  return envs;
}

const environments = partEnvironments();
const started = [];
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  let failed = false;
  for (const service of [...started].reverse()) {
    try {
      await service.stop();
    } catch (err) {
      failed = true;
      console.error(`switchboard: stopping ${service.name} failed: ${err?.message ?? err}`);
    }
  }
  if (started.length > 0 && !failed) console.log('switchboard: every part stopped');
  process.exit(failed ? 1 : code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

for (const part of PARTS) {
  const entry = resolve(root, part, 'dist/src/service.js');
  if (!existsSync(entry)) continue;
  const { startService } = await import(pathToFileURL(entry).href);
  try {
    const service = await startService({ dataDir, env: environments[part], started: [...started] });
    if (service === null) {
      console.log(`switchboard: ${part} not configured, skipped`);
      continue;
    }
    started.push(service);
    for (const line of service.listening) console.log(`switchboard: ${service.name}  ${line}`);
  } catch (err) {
    console.error(`switchboard: ${part} failed to start: ${err?.message ?? err}`);
    await stopAll(1);
  }
}

if (started.length === 0) {
  console.log('switchboard: no runnable parts built yet');
} else {
  console.log(`switchboard: ${started.length} part(s) running, data in ${dataDir}; Ctrl-C stops`);
}
