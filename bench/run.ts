/**
 * `npm run bench [-- scenario ...]`: runs the named scenarios (default: every file in
 * bench/scenarios/, alphabetically), one after another. Each result line is printed to stdout as
 * one JSON object and appended to bench/results/latest.jsonl (truncated at the start of a run).
 * Progress goes to stderr.
 *
 * A scenario is bench/scenarios/<name>.ts exporting `run(): Promise<BenchLine[]>`; dropping in a
 * file is all it takes to add one.
 *
 * `--report` also writes docs/benchmarks.md (and docs/bench/*.svg) from this run's lines: figures, targets,
 * pass/fail, the machine, charts (bench/lib/report.ts). `--report-from FILE...` writes it from the result files
 * of runs already made instead (a long scenario run on its own, then the rest), and names them in the report.
 *
 * BENCH_LEGACY_CPUS (e.g. `1`) runs the whole run with the legacy server on those CPUs and everything else on the
 * others (bench/lib/cpu-layout.ts); the run's first line records the layout.
 *
 * Exit status: 1 if a scenario threw; with BENCH_STRICT=1 also 1 when a line has `pass: false`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requestStop, runCleanups } from './lib/cleanup';
import { applyCpuLayout, CpuLayout } from './lib/cpu-layout';
import { progress } from './lib/log';
import { machine, writeReport } from './lib/report';
import { type BenchLine, type ScenarioModule, setLineSink } from './lib/types';

const SCENARIO_DIR = path.join(__dirname, 'scenarios');
const RESULTS_FILE = path.join(__dirname, 'results', 'latest.jsonl');

function available(): string[] {
  return fs
    .readdirSync(SCENARIO_DIR)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !/\.(spec|test)\./.test(f))
    .map((f) => f.replace(/\.(ts|js)$/, ''))
    .sort();
}

const emitted: BenchLine[] = [];

function emit(given: BenchLine): void {
  const line = layout && given.bench !== 'run' ? { ...given, layout: layout.tag } : given;
  emitted.push(line);
  const json = JSON.stringify(line);
  process.stdout.write(`${json}\n`);
  fs.appendFileSync(RESULTS_FILE, `${json}\n`);
}

async function main(): Promise<number> {
  const all = available();
  const allArgs = process.argv.slice(2).filter((a) => a !== '--');
  const report = allArgs.includes('--report');
  const from = allArgs.indexOf('--report-from');
  if (from >= 0) {
    // The report of runs already made (their result files, in order), e.g. a long scenario run on its own.
    const files = allArgs.slice(from + 1);
    if (files.length === 0) throw new Error('--report-from needs one or more result files (JSON lines)');
    const lines = files.flatMap((f) =>
      fs
        .readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        // Each line names its run (the file), for the report's targets table and details.
        .map((l) => ({ run: path.basename(f, '.jsonl'), ...(JSON.parse(l) as BenchLine) })),
    );
    const names = [...new Set(lines.map((l) => l.bench))];
    progress(
      'run',
      `report from ${files.length} result file(s): ${path.relative(
        process.cwd(),
        writeReport(
          lines,
          names,
          files.map((f) => path.relative(process.cwd(), f)),
        ),
      )}`,
    );
    return 0;
  }
  const args = allArgs.filter((a) => a !== '--report');
  if (args.includes('--list')) {
    process.stdout.write(`${all.join('\n')}\n`);
    return 0;
  }
  const names = args.length > 0 ? args : all;
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; available: ${all.join(', ')}\n`);
    return 2;
  }
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(RESULTS_FILE, '');

  let failed = 0;
  let missed = 0;
  const started = Date.now();
  layout = applyCpuLayout();
  emit({
    bench: 'run',
    figure: 'started',
    scenarios: names.join(' '),
    ...machine(),
    layout: layout?.description ?? 'every process on every CPU',
  });
  for (const name of names) {
    if (stopping) break;
    const t0 = Date.now();
    progress(name, 'start');
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(path.join(SCENARIO_DIR, name)) as ScenarioModule;
      if (typeof mod.run !== 'function') throw new Error(`bench/scenarios/${name} does not export run()`);
      setLineSink((line) => {
        emit(line);
        if (line.pass === false) missed++;
      });
      const lines = await mod.run();
      setLineSink(null);
      for (const line of lines) {
        emit(line);
        if (line.pass === false) missed++;
      }
      progress(name, `done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      if (stopping) break;
      failed++;
      progress(name, `FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      emit({ bench: name, figure: 'error', error: err instanceof Error ? err.message : String(err) });
    } finally {
      await runCleanups();
    }
  }
  await runCleanups({ endOfRun: true });
  emit({
    bench: 'run',
    figure: 'ended',
    elapsed_s: Math.round((Date.now() - started) / 1000),
    failed,
    missed,
    load_average: os.loadavg().map((l) => Number(l.toFixed(2))),
  });
  progress(
    'run',
    `${names.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `${failed} failed, ${missed} figure(s) missed their target; results in ${path.relative(process.cwd(), RESULTS_FILE)}`,
  );
  if (report && !stopping) progress('run', `report: ${path.relative(process.cwd(), writeReport(emitted, names))}`);
  if (stopping) return 130;
  if (failed > 0) return 1;
  return process.env.BENCH_STRICT === '1' && missed > 0 ? 1 : 0;
}

let stopping = false;
let layout: CpuLayout | null = null;
process.on('exit', () => layout?.restore());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    requestStop();
    progress('run', `${signal}: cleaning up (send again to exit at once)`);
    void runCleanups({ endOfRun: true }).finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await runCleanups({ endOfRun: true });
    process.exit(1);
  },
);
