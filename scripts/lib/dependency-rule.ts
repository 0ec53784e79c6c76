/**
 * The dependency rule (STYLE.md): domain code (every `domain/` folder under src/) is plain TypeScript.
 * It may import other domain code, a port (`*.port`, interfaces only), Node's built-ins, and in its
 * `testing/` helpers the property-testing library; never Nest, a driver, an SDK or an adapter. Checked
 * by `npm run lint:deps` and by src/dependency-rule.spec.ts, so `npm test` fails on a violation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Violation {
  file: string;
  line: number;
  imports: string;
}

const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|require\('([^']+)'\)/;

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const inDomain = (file: string) => file.split(path.sep).includes('domain');

function allowed(file: string, spec: string): boolean {
  if (spec.startsWith('node:')) return true;
  if (spec === 'fast-check') return file.split(path.sep).includes('testing') || file.endsWith('.spec.ts');
  if (!spec.startsWith('.')) return false;
  const target = path.resolve(path.dirname(file), spec);
  return inDomain(target) || target.endsWith('.port');
}

/** Every import in a domain file that the rule forbids, under `srcDir`. */
export function dependencyViolations(srcDir: string): Violation[] {
  const out: Violation[] = [];
  for (const file of filesUnder(srcDir).filter(inDomain)) {
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        const m = IMPORT.exec(text);
        const spec = m?.[1] ?? m?.[2] ?? m?.[3];
        if (spec && !allowed(file, spec)) out.push({ file: path.relative(path.dirname(srcDir), file), line: i + 1, imports: spec });
      });
  }
  return out;
}
