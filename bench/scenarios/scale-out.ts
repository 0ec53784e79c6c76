/**
 * scale-out (issue 18, item 3; SPEC §6 "backfill throughput with 2 worker processes vs 1: at least 1.7x, where
 * the machine has the cores"): the service's backfill and a verification run of the same data set with 1, 2 and
 * 4 worker processes (BENCH_SCALE_WORKERS), which this scenario starts (workers/worker.ts as `npm run worker`
 * runs it, on the scenario's databases), driven through the operator API as the backfill and verify scenarios
 * drive them. Each backfill copies into a fresh PostgreSQL database; the workers present when the run is split
 * get one lane each. Verification compares the legacy data set with a copy made once (the raw COPY pipeline).
 *
 * The ratio to one worker is judged only where the machine has the cores (at least 2 per worker measured beyond
 * the first, besides the database servers): on a 2-core machine the legacy server, PostgreSQL, the workers and
 * the bench share the same two cores, and the line says so with every process's CPU time.
 *
 * A verification run's walk is split into `_id` segments (16 at this size, by default), each under its own lease:
 * the worker that holds the run asks for helpers, and every worker present walks segments.
 *
 * Knobs (defaults): BENCH_SCALE_DOCS (100000), BENCH_SCALE_WORKERS (1,2,4), BENCH_SCALE_BACKFILL (1; 0 skips the
 * backfill), BENCH_SCALE_VERIFY (1; 0 skips verification), BENCH_SCALE_TIMEOUT_S (per run, default from the
 * documents: 1 s per 150).
 */
import * as os from 'node:os';
import { datasetOf, describeDataset } from '../lib/dataset';
import { envInt, progress, round } from '../lib/log';
import { ratio } from '../lib/stats';
import type { BenchLine } from '../lib/types';
import { engineBackfill } from './backfill';
import { engineVerify, ensureCopy } from './verify';

const BENCH = 'scale-out';
const TARGET = 1.7;

function workerCounts(): number[] {
  const raw = process.env.BENCH_SCALE_WORKERS ?? '1,2,4';
  const out = raw.split(',').map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1 || n > 32))
    throw new Error(`BENCH_SCALE_WORKERS=${raw}: integers 1..32, comma-separated`);
  return [...new Set(out)].sort((a, b) => a - b);
}

interface Point {
  workers: number;
  completed: boolean;
  elapsed_s: number;
  docs_per_s: number;
  worker_cpu_s: number;
  peak_rss_mb: number;
  servers_cpu_s: Record<string, number>;
}

/** Judged where the machine has the cores: two per extra worker on top of two for the database servers. */
function judged(workers: number): boolean {
  return os.cpus().length >= 2 + 2 * (workers - 1);
}

function lineFor(kind: 'backfill' | 'verify', points: Point[], unit: string, extra: Record<string, unknown>): BenchLine {
  const one = points.find((p) => p.workers === 1);
  const two = points.find((p) => p.workers === 2);
  const r2 = one && two ? ratio(two.docs_per_s, one.docs_per_s) : NaN;
  return {
    bench: BENCH,
    figure: `${kind}_scale_out`,
    unit,
    by_workers: Object.fromEntries(points.map((p) => [p.workers, p.docs_per_s])),
    speedup: Object.fromEntries(points.map((p) => [p.workers, one ? ratio(p.docs_per_s, one.docs_per_s) : NaN])),
    ratio: r2,
    points,
    cores: os.cpus().length,
    load_average: os.loadavg().map((l) => round(l, 2)),
    target: `>=${TARGET} with 2 workers vs 1, where the machine has the cores`,
    ...(judged(2)
      ? { pass: points.every((p) => p.completed) && r2 >= TARGET }
      : {
          pass: null,
          not_judged: `${os.cpus().length} cores for the legacy server, PostgreSQL, the workers and the bench: not where the SPEC judges it (see the CPU seconds per process)`,
        }),
    ...extra,
  };
}

export async function run(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const ds = await datasetOf(envInt('BENCH_SCALE_DOCS', 100_000));
  lines.push({ bench: BENCH, figure: 'dataset', ...describeDataset(ds) });
  const counts = workerCounts();
  const timeoutS = envInt('BENCH_SCALE_TIMEOUT_S', Math.max(120, Math.round(ds.docs / 150)));

  const backfill: Point[] = [];
  for (const n of envInt('BENCH_SCALE_BACKFILL', 1, 0) === 1 ? counts : []) {
    progress(BENCH, `backfill of ${ds.docs} documents with ${n} worker process(es)`);
    const r = await engineBackfill(ds, `scale${n}`, timeoutS, false, n);
    backfill.push({
      workers: n,
      completed: r.completed,
      elapsed_s: round(r.elapsedS, 1),
      docs_per_s: round(r.docsPerS, 0),
      worker_cpu_s: round(
        r.workers.reduce((a, w) => a + (w.cpu_s ?? 0), 0),
        1,
      ),
      peak_rss_mb: Math.max(...r.workers.map((w) => w.peak_rss_mb)),
      servers_cpu_s: Object.fromEntries(Object.entries(r.servers).map(([k, v]) => [k, round(v, 1)])),
    });
    progress(BENCH, `backfill, ${n} worker(s): ${round(r.docsPerS, 0)} docs/s`);
  }
  if (backfill.length > 0)
    lines.push(lineFor('backfill', backfill, 'documents/s', { lanes: 'one per worker present at the split (SYNC_BACKFILL_LANES unset)' }));

  const verify: Point[] = [];
  if (envInt('BENCH_SCALE_VERIFY', 1, 0) === 1) {
    const target = await ensureCopy(ds);
    for (const n of counts) {
      progress(BENCH, `verification of ${ds.docs} documents with ${n} worker process(es)`);
      const r = await engineVerify(ds, target, timeoutS, n);
      if ('missing' in r) {
        lines.push({ bench: BENCH, figure: 'verify_scale_out', skipped: true, reason: r.missing });
        break;
      }
      verify.push({
        workers: n,
        completed: r.completed,
        elapsed_s: round(r.elapsedS, 1),
        docs_per_s: round(r.compared / r.elapsedS, 0),
        worker_cpu_s: round(
          r.workers.reduce((a, w) => a + (w.cpu_s ?? 0), 0),
          1,
        ),
        peak_rss_mb: Math.max(...r.workers.map((w) => w.peak_rss_mb)),
        servers_cpu_s: Object.fromEntries(Object.entries(r.servers).map(([k, v]) => [k, round(v, 1)])),
      });
      progress(BENCH, `verification, ${n} worker(s): ${round(r.compared / r.elapsedS, 0)} records/s`);
    }
    if (verify.length > 0)
      lines.push(
        lineFor('verify', verify, 'records/s', { note: 'one run, its walk split into `_id` segments that every worker present walks' }),
      );
  }

  // The chart compares the two: a run without the backfill leaves the last full run's chart in the report.
  if (backfill.length === 0) return lines;
  lines.push({
    bench: BENCH,
    figure: 'throughput_by_workers',
    chart: {
      id: 'scale-out',
      title: `Throughput by worker processes (${ds.docs.toLocaleString('en-US')} documents, ${os.cpus().length} cores)`,
      kind: 'line',
      x: 'worker processes',
      y: 'documents (records) per second',
      series: [
        { name: 'backfill', points: backfill.map((p) => [p.workers, p.docs_per_s] as [number, number]) },
        ...(verify.length > 0 ? [{ name: 'verification', points: verify.map((p) => [p.workers, p.docs_per_s] as [number, number]) }] : []),
      ],
    },
  });
  return lines;
}
