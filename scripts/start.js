// The embedded stack: starts every part that exists, each on 127.0.0.1, and prints where each
// listens. Parts export `startService(context)` from `<part>/dist/src/service.js`
// (see packages/service-kit/src/service.ts). Order matters: later parts may use earlier ones.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const PARTS = ['directory', 'provider-api', 'bridge'];
const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.SWITCHBOARD_DATA_DIR ?? resolve(root, 'data'));

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
    const service = await startService({ dataDir, env: process.env, started: [...started] });
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
