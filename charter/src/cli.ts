#!/usr/bin/env node
// Entry point of `switchboard-charter`: wires the real terminal and clock to the CLI.
import { main } from './cli/main.js';

const code = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  now: () => new Date(),
});
process.exitCode = code;
