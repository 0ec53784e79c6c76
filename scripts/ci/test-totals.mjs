#!/usr/bin/env node
// Adds up the Jest results written with `--json --outputFile` under a folder (recursively) and prints, last, the
// plain closing line a CI reader counts: `tests: N passed, N failed` (`, N skipped` when some were skipped or todo).
// A suite that failed to run (a syntax error, a hook that threw) counts as one failed test: Jest reports it with
// no failed test, and a run that executed nothing must not read as a pass. Before that line it names each failed
// test (file, title, the first lines of its failure), so a log read only from its end still says what failed.
// Exits 0; the runs' own exit codes decide success.
// Usage: node scripts/ci/test-totals.mjs DIR [LABEL]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

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
/** What failed, in run order: `{ where, lines }`, `where` the file and the test's full name. */
const failures = [];
const MAX_FAILURES = 20;
const LINES_EACH = 8;

// eslint-disable-next-line no-control-regex
const COLOURS = /\u001b\[[0-9;]*m/g;

// The first lines of a Jest failure message, without colours and the stack's own frames.
function firstLines(message) {
  return (message ?? '')
    .replace(COLOURS, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !/^\s*at /.test(l))
    .slice(0, LINES_EACH);
}

function collectFailures(result) {
  for (const suite of result.testResults ?? []) {
    if (suite.status !== 'failed') continue;
    const file = relative(process.cwd(), suite.name ?? '');
    const failed = (suite.assertionResults ?? []).filter((a) => a.status === 'failed');
    if (failed.length === 0) failures.push({ where: `${file} (the suite failed to run)`, lines: firstLines(suite.message) });
    for (const a of failed) failures.push({ where: `${file} › ${a.fullName}`, lines: firstLines(a.failureMessages?.join('\n')) });
  }
}

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
  collectFailures(result);
}

for (const f of failures.slice(0, MAX_FAILURES)) {
  console.log(`${label}: FAILED ${f.where}`);
  for (const line of f.lines) console.log(`    ${line}`);
}
if (failures.length > MAX_FAILURES) console.log(`${label}: ... and ${failures.length - MAX_FAILURES} more failed`);

for (const file of totals.unreadable) console.log(`${label}: could not read ${file}`);
console.log(
  `${label}: ${totals.runs} Jest run(s), ${totals.suites} suites` +
    (totals.brokenSuites ? `, ${totals.brokenSuites} of which failed to run` : ''),
);
const failed = totals.failed + totals.brokenSuites;
console.log(`${label}: ${totals.passed} passed, ${failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
