#!/usr/bin/env node
// Adds up the Jest results written with `--json --outputFile` under a folder (recursively) and prints, last, the
// plain closing line a CI reader counts: `tests: N passed, N failed` (`, N skipped` when some were skipped or todo).
// A suite that failed to run (a syntax error, a hook that threw) counts as one failed test: Jest reports it with
// no failed test, and a run that executed nothing must not read as a pass. Exits 0; the runs' own exit codes
// decide success.
// Usage: node scripts/ci/test-totals.mjs DIR [LABEL]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [dir, label = 'tests'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: test-totals.mjs DIR [LABEL]');
  process.exit(2);
}

function jsonFiles(folder) {
  let entries;
  try {
    entries = readdirSync(folder);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith('.json') ? [path] : [];
  });
}

const totals = { passed: 0, failed: 0, skipped: 0, suites: 0, brokenSuites: 0, runs: 0, unreadable: [] };
for (const file of jsonFiles(dir).sort()) {
  let result;
  try {
    result = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    totals.unreadable.push(file);
    continue;
  }
  if (typeof result?.numTotalTests !== 'number') continue; // not a Jest result
  totals.runs += 1;
  totals.passed += result.numPassedTests ?? 0;
  totals.failed += result.numFailedTests ?? 0;
  totals.skipped += (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0);
  totals.suites += result.numTotalTestSuites ?? 0;
  totals.brokenSuites += result.numRuntimeErrorTestSuites ?? 0;
}

for (const file of totals.unreadable) console.log(`${label}: could not read ${file}`);
console.log(
  `${label}: ${totals.runs} Jest run(s), ${totals.suites} suites` +
    (totals.brokenSuites ? `, ${totals.brokenSuites} of which failed to run` : ''),
);
const failed = totals.failed + totals.brokenSuites;
console.log(`${label}: ${totals.passed} passed, ${failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
