/** `npm run lint:deps`: lists imports that break the dependency rule (see scripts/lib/dependency-rule.ts). */
import * as path from 'node:path';
import { dependencyViolations } from './lib/dependency-rule';

const violations = dependencyViolations(path.resolve(__dirname, '../src'));
for (const v of violations) console.error(`${v.file}:${v.line}: domain code imports '${v.imports}'`);
if (violations.length > 0) {
  console.error(`${violations.length} import(s) break the dependency rule: domain code imports only domain code, ports and Node built-ins`);
  process.exit(1);
}
console.log('dependency rule: domain code imports only domain code, ports and Node built-ins');
