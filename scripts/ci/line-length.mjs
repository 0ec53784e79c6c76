#!/usr/bin/env node
// Fails when a line of TypeScript under the given folders (default: src) is longer than the limit (default 140)
// once the text of its string, template and regular-expression literals (and JSX text) is left out: a long message
// or pattern may run on, code and comments must wrap. Prettier wraps code but not comments or literals, hence this.
// Usage: node scripts/ci/line-length.mjs [--max N] [folder...]
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
let max = 140;
const maxAt = args.indexOf('--max');
if (maxAt >= 0) {
  max = Number(args[maxAt + 1]);
  args.splice(maxAt, 2);
}
const roots = args.length > 0 ? args : ['src'];

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') yield* sourceFiles(path);
    } else if (/\.(ts|tsx|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield path;
    }
  }
}

const LITERALS = new Set([
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.TemplateHead,
  ts.SyntaxKind.TemplateMiddle,
  ts.SyntaxKind.TemplateTail,
  ts.SyntaxKind.RegularExpressionLiteral,
  ts.SyntaxKind.JsxText,
]);

/** How many characters of each line belong to a literal. */
function literalCharsPerLine(file) {
  const perLine = new Map();
  const visit = (node) => {
    if (LITERALS.has(node.kind)) {
      let pos = node.getStart(file);
      const end = node.getEnd();
      while (pos < end) {
        const { line } = file.getLineAndCharacterOfPosition(pos);
        const lineEnd = Math.min(end, file.getLineEndOfPosition(pos));
        perLine.set(line, (perLine.get(line) ?? 0) + (lineEnd - pos));
        pos = lineEnd + 1;
      }
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return perLine;
}

let violations = 0;
for (const root of roots) {
  for (const path of sourceFiles(root)) {
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    if (!lines.some((l) => l.length > max)) continue;
    const kind = path.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
    const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
    const literal = literalCharsPerLine(file);
    lines.forEach((line, i) => {
      const outside = line.replace(/\r$/, '').length - (literal.get(i) ?? 0);
      if (outside > max) {
        violations++;
        console.log(`${relative(process.cwd(), path)}:${i + 1}: ${outside} characters outside literals (max ${max})`);
      }
    });
  }
}
if (violations > 0) {
  console.log(`${violations} line(s) longer than ${max} characters outside string literals`);
  process.exit(1);
}
console.log(`line length: no line over ${max} characters outside string literals in ${roots.join(', ')}`);
