import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../src/documents.js';

const require = createRequire(import.meta.url);
const redoclyBin = join(dirname(require.resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

const documents = readdirSync(packageRoot()).filter(
  (f) => f.endsWith('.yaml') && f !== 'redocly.yaml' && !f.startsWith('.'),
);

describe('OpenAPI documents pass `redocly lint` (recommended-strict)', () => {
  it.each(documents)('%s', (file) => {
    const run = spawnSync(process.execPath, [redoclyBin, 'lint', file], {
      cwd: packageRoot(),
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      timeout: 120_000,
    });
    if (run.status !== 0) console.log(run.stdout, run.stderr);
    expect(run.status).toBe(0);
  });
});
