// Regenerates openapi/generated/*.ts from openapi/*.yaml: `npm run generate -w openapi`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { generateAll } from './generate.js';

const files = await generateAll();
for (const file of files) {
  mkdirSync(dirname(file.output), { recursive: true });
  writeFileSync(file.output, file.text);
  console.log(`generated ${relative(process.cwd(), file.output)} from ${file.document}`);
}
