#!/usr/bin/env node
// The `switchboard` command, as linked by npm (`npx switchboard` in the checkout). It exists before
// the first build, so npm can link it at install; the command itself is compiled from src/cli.
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error(
      'switchboard: not built yet; run `npm run build` (or `npm start`) in the checkout first',
    );
    process.exit(70);
  }
  throw err;
});
