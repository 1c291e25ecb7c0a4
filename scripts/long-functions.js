#!/usr/bin/env node
// Lists functions longer than a limit (default 80 lines) in the hand-written sources:
// every <part>/src/**/*.ts and packages/*/src/**/*.ts, not tests, not dist, not generated/.
//   node scripts/long-functions.js [--max 80] [part ...]
// A function's length is its lines from the first of its declaration to its closing brace; a
// function nested in a long one is listed on its own too. Exit code 0 always: a report, not a gate.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const max = maxAt >= 0 ? Number(args[maxAt + 1]) : 80;
const parts = args.filter((a, i) => !a.startsWith('--') && (maxAt < 0 || i !== maxAt + 1));

function* tsFiles(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'dist' || entry === 'generated') continue;
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts') && !entry.endsWith('.test.ts'))
      yield path;
  }
}

function sourceDirs() {
  const tops = readdirSync(root).filter(
    (d) => !d.startsWith('.') && d !== 'node_modules' && statSync(join(root, d)).isDirectory(),
  );
  const dirs = [];
  for (const top of tops) {
    if (top === 'packages') {
      for (const p of readdirSync(join(root, top))) dirs.push(join(top, p, 'src'));
    } else dirs.push(join(top, 'src'));
  }
  return dirs.filter((d) => {
    try {
      return statSync(join(root, d)).isDirectory();
    } catch {
      return false;
    }
  });
}

function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  const p = node.parent;
  if (p && ts.isVariableDeclaration(p)) return p.name.getText();
  if (p && ts.isPropertyAssignment(p)) return p.name.getText();
  if (p && ts.isCallExpression(p)) return `(callback of ${p.expression.getText().slice(0, 40)})`;
  return '(anonymous)';
}

const found = [];
for (const dir of sourceDirs()) {
  if (parts.length > 0 && !parts.some((p) => dir === join(p, 'src') || dir.startsWith(`${p}/`)))
    continue;
  for (const file of tsFiles(join(root, dir))) {
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
        const lines = end - start + 1;
        if (lines > max)
          found.push({ file: relative(root, file), start, lines, name: nameOf(node) });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found)
  console.log(`${String(f.lines).padStart(4)}  ${f.file}:${f.start}  ${f.name}`);
console.log(`${found.length} function(s) over ${max} lines`);
