// Bundles the browser entry (dist/src/browser.js, after `npx tsc -b`) into one ES module for
// pages: dist/browser/switchboard-lookup.js (+ .map). platform 'browser' makes esbuild refuse any
// Node built-in (`node:*`) the entry would reach, and the check below refuses one marked external.
// Usage: npm run build:browser -w @switchboard/client-sdk
import { build } from 'esbuild';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);

/** Builds the bundle; returns its path and the input files, for tests. */
export async function buildBrowserBundle() {
  const outfile = fileURLToPath(new URL('dist/browser/switchboard-lookup.js', root));
  const result = await build({
    entryPoints: [fileURLToPath(new URL('dist/src/browser.js', root))],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: true,
    metafile: true,
    legalComments: 'linked',
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const nodeOnly = inputs.filter((p) => p.startsWith('node:'));
  if (nodeOnly.length > 0) throw new Error(`browser bundle reaches Node built-ins: ${nodeOnly}`);
  return { outfile, inputs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outfile, inputs } = await buildBrowserBundle();
  process.stdout.write(`wrote ${outfile} from ${inputs.length} modules\n`);
}
