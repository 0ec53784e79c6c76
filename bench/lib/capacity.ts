/**
 * docs/capacity.md from a bench run's lines (written with docs/benchmarks.md by `--report`/`--report-from`), so
 * that every number in it is computed from a figure of docs/benchmarks.md and says which.
 *
 * The model: a backfill moves N documents through three processes, the legacy server (reads), the workers
 * (decode, transform, COPY text, the guarded merge's client side) and PostgreSQL (COPY, merge, indexes). Each
 * costs CPU seconds per document, measured at one worker (scale-out, backfill_scale_out, workers = 1: the worker's
 * and the servers' CPU time over the run, from /proc). A worker on its own core does at most what it did alone
 * here; a server with C cores does at most C / (its CPU seconds per document). The run's rate with K workers is
 * the smallest of K x the per-worker rate and the two servers' ceilings; Redis carries one job per range
 * (SYNC_RANGE_SIZE documents) and one lease renewal per batch in PostgreSQL, not per document, so it is not on
 * the backfill's path (it is on the request path's: shadow samples and repairs, one job each).
 */
import type { BenchLine } from './types';

interface ScalePoint {
  workers: number;
  docs_per_s: number;
  elapsed_s: number;
  worker_cpu_s: number;
  servers_cpu_s: Record<string, number>;
  completed: boolean;
}

const SIZES = [10_000_000, 100_000_000, 1_000_000_000];
const WORKERS = [1, 2, 4, 8, 16, 32, 64];
/** Cores assumed for each database server in the table (a parameter of the table, not a measurement). */
const SERVER_CORES = [8, 32];

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function n(v: number, digits = 0): string {
  return Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a';
}

export function capacityReport(lines: BenchLine[]): string | null {
  const scale = lines.find((l) => l.bench === 'scale-out' && l.figure === 'backfill_scale_out');
  const dataset = lines.find((l) => l.bench === 'scale-out' && l.figure === 'dataset');
  if (!scale || !dataset) return null;
  const points = scale.points as ScalePoint[];
  const one = points.find((p) => p.workers === 1 && p.completed);
  if (!one) return null;
  const docs = dataset.docs as number;
  const meanBytes = dataset.mean_doc_bytes as number;
  const cpuMs = {
    worker: (one.worker_cpu_s * 1000) / docs,
    legacy: ((one.servers_cpu_s.ferretdb ?? NaN) * 1000) / docs,
    postgres: ((one.servers_cpu_s.postgres ?? NaN) * 1000) / docs,
  };
  const perWorker = one.docs_per_s;
  // The latest: a run of the verification alone may follow the run that measured the backfill.
  const verify = lines.filter((l) => l.bench === 'scale-out' && l.figure === 'verify_scale_out').pop();
  const verifyOne = (verify?.points as ScalePoint[] | undefined)?.find((p) => p.workers === 1 && p.completed);
  const bigBackfill = lines
    .filter((l) => l.bench === 'backfill' && l.figure === 'backfill_vs_raw_pipeline')
    .sort((a, b) => (b.docs as number) - (a.docs as number))[0];
  const ceiling = (cores: number) => ({ legacy: (cores * 1000) / cpuMs.legacy, postgres: (cores * 1000) / cpuMs.postgres });

  const out: string[] = [
    '# Capacity: how long a backfill takes, and with how many workers',
    '',
    'Written by `npm run bench -- --report` (or `--report-from`; bench/lib/capacity.ts) from the same result lines as',
    '[benchmarks.md](benchmarks.md): every input below names the bench line it comes from (scenario / figure). Change the',
    'machine or the data and the figures change with them; the method stays.',
    '',
    '## Inputs (measured)',
    '',
    '| input | value | bench line |',
    '| --- | --- | --- |',
    `| documents in the scale-out data set, mean BSON size | ${n(docs)}, ${n(meanBytes)} B | scale-out / dataset |`,
    `| one worker's backfill rate (per-worker rate r) | ${n(perWorker)} documents/s | scale-out / backfill_scale_out, workers 1 (${n(one.elapsed_s, 1)} s) |`,
    `| worker CPU per document | ${n(cpuMs.worker, 3)} ms | same line: worker_cpu_s ${one.worker_cpu_s} / ${n(docs)} documents |`,
    `| legacy server (FerretDB on SQLite) CPU per document | ${n(cpuMs.legacy, 3)} ms | same line: servers_cpu_s.ferretdb ${one.servers_cpu_s.ferretdb} |`,
    `| PostgreSQL CPU per document | ${n(cpuMs.postgres, 3)} ms | same line: servers_cpu_s.postgres ${one.servers_cpu_s.postgres} |`,
    ...(verifyOne
      ? [`| one worker's verification rate | ${n(verifyOne.docs_per_s)} records/s | scale-out / verify_scale_out, workers 1 |`]
      : []),
    ...(bigBackfill
      ? [
          `| backfill vs the raw pipeline at ${n(bigBackfill.docs as number)} documents | ${bigBackfill.ratio}x (${n((bigBackfill.backfill as { docs_per_s: number }).docs_per_s)} vs ${n((bigBackfill.baseline as { docs_per_s: number }).docs_per_s)} documents/s) | backfill / backfill_vs_raw_pipeline |`,
        ]
      : []),
    '',
    '## The model',
    '',
    "A backfill's rate with K workers is the smallest of:",
    '',
    `- **the workers**: K x r (r = ${n(perWorker)} documents/s, one worker on this machine). A worker runs one lane at a time`,
    `  per job slot; its own CPU is ${n(cpuMs.worker, 3)} ms a document, so on a core of its own it could do up to`,
    `  ${n(1000 / cpuMs.worker)} documents/s: r here is held down by the legacy server sharing the machine's cores, so using`,
    '  r is the cautious choice;',
    `- **the legacy server (reads)**: C_legacy cores / ${n(cpuMs.legacy, 3)} ms = ${n(1000 / cpuMs.legacy)} documents/s per core of`,
    '  FerretDB. A real MongoDB serves an `_id` range from its index and returns BSON without re-encoding it, so its',
    '  cost per document is lower (not measured here: the dev server is what this machine has);',
    `- **PostgreSQL (the sink)**: C_pg cores / ${n(cpuMs.postgres, 3)} ms = ${n(1000 / cpuMs.postgres)} documents/s per core (COPY into`,
    "  the session's staging tables, one guarded INSERT ... ON CONFLICT per batch, the messages, the indexes, WAL);",
    '  its disk (WAL and table writes of about the legacy size again) is the other limit a real server meets;',
    '- **Redis**: one BullMQ job per range of SYNC_RANGE_SIZE (20,000) documents, leases and checkpoints in',
    '  PostgreSQL: 1B documents are 50,000 jobs, nothing a single Redis notices. Redis is on the request path',
    '  instead (shadow samples, repairs, follow-ups backstop: one job each), where the Redis Cluster spreads the queues.',
    '',
    '## How long',
    '',
  ];
  for (const cores of SERVER_CORES) {
    const c = ceiling(cores);
    out.push(
      `With ${cores} cores for each database server (legacy ceiling ${n(c.legacy)} documents/s, PostgreSQL ceiling ${n(c.postgres)} documents/s):`,
      '',
      `| workers K | rate (documents/s) | bound by | ${SIZES.map((s) => (s >= 1e9 ? `${n(s / 1e9)}B conversations` : `${n(s / 1e6)}M conversations`)).join(' | ')} |`,
      `| --- | --- | --- | ${SIZES.map(() => '---').join(' | ')} |`,
    );
    for (const k of WORKERS) {
      const bounds: Array<[string, number]> = [
        ['workers', k * perWorker],
        ['legacy reads', c.legacy],
        ['PostgreSQL writes', c.postgres],
      ];
      const [by, rate] = bounds.reduce((a, b) => (b[1] < a[1] ? b : a));
      out.push(`| ${k} | ${n(rate)} | ${by} | ${SIZES.map((s) => duration(s / rate)).join(' | ')} |`);
    }
    const kLegacy = c.legacy / perWorker;
    const kPg = c.postgres / perWorker;
    out.push(
      '',
      `Beyond about ${n(Math.min(kLegacy, kPg), 1)} workers the ${kLegacy <= kPg ? 'legacy server' : 'PostgreSQL server'} is the limit at ${cores} cores: more workers add nothing until it gets more.`,
      '',
    );
  }
  const legacyFirst = cpuMs.legacy >= cpuMs.postgres;
  out.push(
    '## Where the bottleneck moves, and what to raise',
    '',
    `1. **Few workers: the workers.** Add workers (KEDA scales the sync workers on the queues' depth; a run is split`,
    "   into at least SYNC_BACKFILL_LANES lanes, so set it to the autoscaler's maximum) or job slots per worker",
    '   (SYNC_BACKFILL_CONCURRENCY) until the next limit.',
    `2. **Then the ${legacyFirst ? 'legacy server' : 'PostgreSQL server'}**, which costs ${legacyFirst ? n(cpuMs.legacy / cpuMs.postgres, 1) : n(cpuMs.postgres / cpuMs.legacy, 1)}x`,
    `   the CPU per document of the ${legacyFirst ? 'PostgreSQL server' : 'legacy server'} here.`,
    legacyFirst
      ? '   Legacy reads: read from secondaries (a read preference on LEGACY_MONGO_URL), more cores, or a real MongoDB instead of the dev server; the `_id` ranges are independent, so lanes on different secondaries add up.'
      : '   PostgreSQL writes: more cores and faster disk for WAL, larger SYNC_BATCH_SIZE (fewer merges), fewer indexes during the copy.',
    `3. **Then the ${legacyFirst ? 'PostgreSQL server' : 'legacy server'}**: ${legacyFirst ? 'more cores, WAL on its own disk, SYNC_BATCH_SIZE up to the SYNC_BATCH_BYTES bound (2 MiB by default)' : 'read from secondaries, more cores'}.`,
    '4. **Redis** becomes a limit only for the request path (shadow sampling rate, repairs): raise SHADOW_SAMPLE_RATE only as far as the shadow queue keeps up, spread the queues on the Redis Cluster (one hash tag per queue).',
    '5. **Throttle** against the live service: SYNC_MAX_DOCS_PER_SECOND (or PUT /migration/sync/throttle) caps the',
    '   run over all workers; the rate you can afford is what the legacy server can give besides its live traffic.',
    '',
    '## What this machine cannot show',
    '',
    `The bench ran on ${String(scale.cores)} cores shared by the legacy server, PostgreSQL, the workers and the bench itself,`,
    'so more workers do not run faster here (scale-out / backfill_scale_out: ' +
      Object.entries(scale.by_workers as Record<string, number>)
        .map(([k, v]) => `${k} worker(s) ${n(v)} documents/s`)
        .join(', ') +
      '): the table above extrapolates from CPU seconds per document, which is what a worker or a server on cores of its own',
    'spends, not from a measured speed-up. A verification run is split into `_id` segments that every worker walks, so it',
    'is bound like the backfill: by the workers, then by the legacy server, which here serves every cursor from the same',
    '2 cores' +
      (verify
        ? ` (scale-out / verify_scale_out: ${Object.entries(verify.by_workers as Record<string, number>)
            .map(([k, v]) => `${k} worker(s) ${n(v)} records/s`)
            .join(', ')})`
        : '') +
      '.',
    '',
  );
  return out.join('\n');
}
