/**
 * backfill (SPEC §6): the historical sync's throughput against
 *   (a) a raw pipeline: the legacy cursor (sorted by `_id`, large batches) straight into PostgreSQL
 *       `COPY` (conversations, then messages, per chunk), no checks          -> target >= 0.8x
 *   (b) the seed's loop: batches of 1000 by `_id`, one upsert statement per document, sequential
 *       (its one-second sleep per batch reported apart, not slept)           -> target >= 25x
 * and the backfill's peak memory (VmHWM of each worker process), at two data set sizes to show that
 * it does not grow with the document count (SPEC: under 300 MB at 1,000,000 documents).
 *
 * All three read the same seeded data set (bench/lib/dataset.ts, BENCH_DOCS conversations) and write
 * into a fresh, migrated PostgreSQL database each. Throughput is documents/s and MB/s of legacy BSON.
 *
 * (c) the service's backfill runs as an operator runs it: the API in this process
 * (POST /migration/sync/backfill, polling GET /migration/sync until the run is `completed`) and
 * BENCH_BACKFILL_WORKERS worker processes (`workers/worker.ts`, WORKER_QUEUES=backfill, with the
 * engine's own defaults unless SYNC_* variables are set), which do the whole job: the split of the
 * `_id` space (a job) and the copy (one job per lane). Catch-up is left unscheduled. The engine's own
 * log lines give the profile: how long the split took, and per lane where the time went (the cursor's
 * first read, waiting for later reads, transform, write, throttle). If the run
 * does not finish within BENCH_BACKFILL_TIMEOUT_S (default 1.5x the raw pipeline's time, at least
 * 60 s: by then it has missed the 0.8x target anyway), its measured rate so far is reported with
 * `completed: false`. Where a figure cannot be measured (the engine not built yet) a line says why.
 *
 * Sizes: the raw pipeline and the service's backfill are compared at every size of BENCH_BACKFILL_SIZES (default
 * BENCH_DOCS), the seed loop at the first. Peak RSS is reported at those sizes and at BENCH_RSS_DOCS (more sizes,
 * the backfill alone; default BENCH_DOCS / 10), and the RSS of the workers over the largest run (documents
 * copied on the x axis) is drawn: flat means the memory does not grow with the documents.
 *
 * Knobs (defaults): BENCH_DOCS (200000), BENCH_BACKFILL_SIZES (BENCH_DOCS), BENCH_RSS_DOCS (BENCH_DOCS / 10),
 * BENCH_RAW_SORTED (1; 0 reads in natural order),
 * BENCH_CURSOR_BATCH (5000), BENCH_RAW_CHUNK (2000 documents per COPY), BENCH_RAW_WRITERS (2),
 * BENCH_SEED_LOOP_DOCS (10000; the rate is extrapolated to the whole set), BENCH_LITERAL_FETCH
 * (1 when BENCH_DOCS <= 50000: time one literal `_id > x` fetch_batch query),
 * BENCH_BACKFILL_ENGINE (1; 0 skips (c)), BENCH_BACKFILL_WORKERS (2), BENCH_BACKFILL_TIMEOUT_S, BENCH_RSS_SMALL_DOCS (BENCH_DOCS / 10, at
 * least 2000; 0 skips the second size), BENCH_RSS_SMALL_TIMEOUT_S (at least 120), BENCH_WORKER_NODE_ARGS (node options
 * for the workers, for profiling, e.g. `--prof`; see bench/lib/engine.ts).
 */
import { QueueName } from '../../src/queues/queue-names';
import { Client } from 'pg';
import { Dataset, datasetOf, describeDataset, prefixBytes, sharedDataset } from '../lib/dataset';
import {
  emptyQueues,
  engineMissing,
  pollUntil,
  spawnWorker,
  startOperatorApi,
  ticker,
  WorkerProc,
  workerEnv,
  workerRuntime,
} from '../lib/engine';
import { createFreshPostgres, FreshPostgres } from '../lib/fresh-db';
import { envInt, progress, round } from '../lib/log';
import { cpuDelta, processCpuSeconds, serverCpu, servicePid } from '../lib/proc-cpu';
import { maxSample, sampleMemory } from '../lib/proc-mem';
import { rates, rawCopy } from '../lib/raw-pipeline';
import { literalFetchSeconds, seedLoop } from '../lib/seed-loop';
import { setBackfilled } from '../lib/shared';
import { ratio } from '../lib/stats';
import type { SyncStatus } from '../../src/dashboard/web/types';
import { type BenchLine, flushLines } from '../lib/types';

const BENCH = 'backfill';
const RAW_TARGET = 0.8;
const LOOP_TARGET = 25;
const RSS_TARGET_MB = 300;

async function tableCounts(databaseUrl: string): Promise<{ conversations: number; messages: number; dead_letters: number }> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query(
      `SELECT (SELECT count(*) FROM conversations)::int AS conversations, (SELECT count(*) FROM messages)::int AS messages,
              (SELECT count(*) FROM dead_letters)::int AS dead_letters`,
    );
    return r.rows[0];
  } finally {
    await c.end();
  }
}

/** FerretDB's resident memory during a window (it sorts whole collections in memory). */
function ferretSampler() {
  const pid = servicePid('ferretdb');
  return pid ? sampleMemory(pid, 500) : null;
}

function cpuPct(cpu: Record<string, number>, seconds: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([k, v]) => [`${k}_cpu_pct`, round((v / seconds) * 100, 0)]));
}

// ------------------------------------------------------------------------------------ (a) raw

interface Measured {
  docs: number;
  elapsedS: number;
  docsPerS: number;
  mbPerS: number;
}

async function rawPipeline(ds: Dataset, lines: BenchLine[]): Promise<Measured> {
  const pg = await createFreshPostgres('rawcopy', { runScoped: true });
  const opts = {
    legacyUrl: ds.legacyUrl,
    collection: ds.collection,
    databaseUrl: pg.databaseUrl,
    sorted: envInt('BENCH_RAW_SORTED', 1, 0) === 1,
    cursorBatch: envInt('BENCH_CURSOR_BATCH', 5000),
    chunk: envInt('BENCH_RAW_CHUNK', 2000),
    writers: envInt('BENCH_RAW_WRITERS', 2),
  };
  progress(
    BENCH,
    `(a) raw pipeline: cursor ${opts.sorted ? 'sorted by _id' : 'natural order'}, batchSize ${opts.cursorBatch}, COPY chunks of ${opts.chunk}, ${opts.writers} writer(s)`,
  );
  const s0 = serverCpu();
  const ferretMem = ferretSampler();
  let servers: Record<string, number> = {};
  const r = await rawCopy({ ...opts, beforeClose: () => (servers = cpuDelta(s0, serverCpu())) });
  ferretMem?.stop();
  const counts = await tableCounts(pg.databaseUrl);
  if (counts.conversations !== ds.docs || counts.messages !== ds.messages) {
    throw new Error(`raw pipeline copied ${JSON.stringify(counts)}, expected ${ds.docs} conversations and ${ds.messages} messages`);
  }
  setBackfilled({ databaseUrl: pg.databaseUrl, pgName: pg.pgName, by: 'raw_copy', datasetDb: ds.dbName });
  const rate = rates(r.docs, ds.bsonBytes, r.elapsedS);
  progress(
    BENCH,
    `(a) raw pipeline: ${r.docs} docs in ${round(r.elapsedS, 1)} s = ${rate.docs_per_s} docs/s, ${rate.mb_per_s} MB/s (first document after ${round(r.firstDocS, 1)} s)`,
  );
  lines.push({
    bench: BENCH,
    figure: 'raw_pipeline',
    pipeline: 'legacy cursor -> COPY conversations + messages, no checks',
    docs: r.docs,
    messages: r.messages,
    mb: round(ds.bsonBytes / 1e6, 1),
    elapsed_s: round(r.elapsedS, 2),
    ...rate,
    first_doc_s: round(r.firstDocS, 2),
    reader_busy_s: round(r.readS, 1),
    writers_busy_s: round(r.writeS, 1),
    sorted: opts.sorted,
    cursor_batch: opts.cursorBatch,
    copy_chunk: opts.chunk,
    writers: opts.writers,
    bench_node_cpu_pct: round((r.nodeCpuS / r.elapsedS) * 100, 0),
    ...cpuPct(servers, r.elapsedS),
    ...(ferretMem ? { ferretdb_max_rss_mb: round(maxSample(ferretMem), 0) } : {}),
  });
  return { docs: r.docs, elapsedS: r.elapsedS, docsPerS: r.docs / r.elapsedS, mbPerS: ds.bsonBytes / 1e6 / r.elapsedS };
}

// ------------------------------------------------------------------------------------ (b) seed loop

async function seedLoopBaseline(ds: Dataset, lines: BenchLine[]): Promise<Measured> {
  const n = Math.min(ds.docs, envInt('BENCH_SEED_LOOP_DOCS', 10_000));
  const pg = await createFreshPostgres('seedloop');
  try {
    progress(BENCH, `(b) seed loop on ${n} of ${ds.docs} documents`);
    const s0 = serverCpu();
    let servers: Record<string, number> = {};
    const r = await seedLoop(ds.legacyUrl, ds.collection, pg.databaseUrl, n, () => (servers = cpuDelta(s0, serverCpu())));
    const counts = await tableCounts(pg.databaseUrl);
    if (counts.conversations !== n) throw new Error(`seed loop wrote ${counts.conversations} conversations, expected ${n}`);
    const bytes = prefixBytes(ds, n);
    const docsPerS = r.docs / r.elapsedS;
    const mbPerS = bytes / 1e6 / r.elapsedS;
    const withSleepS = r.elapsedS + r.sleepS;
    const fullBatches = Math.ceil(ds.docs / 1000);
    const fullS = ds.docs / docsPerS;
    progress(
      BENCH,
      `(b) seed loop: ${r.docs} docs in ${round(r.elapsedS, 1)} s = ${round(docsPerS, 0)} docs/s (upserts ${round(r.upsertS, 1)} s, fetch ${round(r.fetchS, 1)} s, transform ${round(r.transformS, 1)} s); sleeps would add ${r.sleepS} s`,
    );

    let literal: Record<string, unknown> = {};
    const literalOn = envInt('BENCH_LITERAL_FETCH', ds.docs <= 50_000 ? 1 : 0, 0) === 1;
    if (literalOn) {
      const mid = await midId(ds);
      const s = await literalFetchSeconds(ds.legacyUrl, ds.collection, mid);
      literal = {
        literal_fetch_batch_s: round(s, 2),
        literal_fetch_note: `one literal fetch_batch ({_id: {$gt}} sorted, limit 1000) from mid-collection on this server; the loop above reads its batches from one cursor instead (see bench/lib/seed-loop.ts); the literal loop would take about ${round((s * fullBatches) / 60, 0)} min of fetching here`,
      };
      progress(BENCH, `(b) one literal fetch_batch query: ${round(s, 2)} s`);
    }
    lines.push({
      bench: BENCH,
      figure: 'seed_loop',
      pipeline: 'batches of 1000 by _id, fromLegacy, one upsert statement per document (conversation + messages), sequential, autocommit',
      docs: r.docs,
      of_docs: ds.docs,
      subset: r.docs < ds.docs,
      messages: r.messages,
      mb: round(bytes / 1e6, 1),
      elapsed_s: round(r.elapsedS, 2),
      docs_per_s: round(docsPerS, 1),
      mb_per_s: round(mbPerS, 3),
      upsert_s: round(r.upsertS, 2),
      // The loop's rate if its reads were free (as they nearly are on MongoDB through the _id index).
      upsert_only_docs_per_s: round(r.docs / r.upsertS, 1),
      fetch_s: round(r.fetchS, 2),
      transform_s: round(r.transformS, 2),
      sleep_would_add_s: r.sleepS,
      with_sleep: { elapsed_s: round(withSleepS, 1), docs_per_s: round(r.docs / withSleepS, 1) },
      ...(r.docs < ds.docs
        ? {
            extrapolated: true,
            extrapolation: `rate of the first ${r.docs} documents (the oldest) applied to all ${ds.docs}`,
            full_set_estimate_s: round(fullS, 0),
            full_set_with_sleep_estimate_s: round(fullS + fullBatches, 0),
          }
        : {}),
      ...cpuPct(servers, r.elapsedS),
      ...literal,
    });
    return { docs: r.docs, elapsedS: r.elapsedS, docsPerS, mbPerS };
  } finally {
    await pg.drop();
  }
}

async function midId(ds: Dataset): Promise<string> {
  const { legacyDocument } = await import('../lib/dataset');
  const d = legacyDocument(ds.seed, Math.floor(ds.docs / 2), ds.docs);
  return (d._id as { toHexString(): string }).toHexString();
}

// ------------------------------------------------------------------------------------ (c) the service

export interface EngineRun {
  docs: number;
  completed: boolean;
  elapsedS: number;
  docsPerS: number;
  mbPerS: number;
  workers: Array<{ pid: number; peak_rss_mb: number; idle_rss_mb: number; cpu_s: number | null }>;
  status: SyncStatus['backfill'] | undefined;
  counts: { conversations: number; messages: number; dead_letters: number } | null;
  servers: Record<string, number>;
  benchCpuS: number;
  ferretMaxRssMb: number | null;
  /** How long POST /migration/sync/backfill took to answer (it waits for a worker to start the split). */
  postS: number;
  /** From the workers' logs: the split and each lane's phases. */
  phases: EnginePhases;
  /** The workers' highest RSS (MB) against the documents read, one point per poll. */
  rssTrace: Array<[number, number]>;
  pg: FreshPostgres;
}

/** The service's backfill of `ds` by `workersN` worker processes (also the scale-out scenario's). */
export async function engineBackfill(
  ds: Dataset,
  label: string,
  timeoutS: number,
  keep: boolean,
  workersN = envInt('BENCH_BACKFILL_WORKERS', 2),
): Promise<EngineRun> {
  const pg = await createFreshPostgres(`backfill${label}`, { runScoped: keep });
  await emptyQueues([QueueName.Backfill, QueueName.Catchup]);
  const workers: WorkerProc[] = [];
  let api: Awaited<ReturnType<typeof startOperatorApi>> | undefined;
  try {
    const env = workerEnv(pg.databaseUrl, ds.legacyUrl, 'backfill', { CATCHUP_INTERVAL_MS: '0' });
    for (let i = 0; i < workersN; i++) workers.push(await spawnWorker(`backfill-${label}-${i}`, env));
    api = await startOperatorApi(pg.databaseUrl, ds.legacyUrl, { CATCHUP_INTERVAL_MS: '0' });
    progress(
      BENCH,
      `(c) backfill [${label}] of ${ds.docs} documents: ${workersN} worker process(es) (pids ${workers.map((w) => w.child.pid).join(', ')}), idle RSS ${workers.map((w) => round(w.idleRssMb, 0)).join(', ')} MB; timeout ${round(timeoutS, 0)} s`,
    );
    const cpu0 = workers.map((w) => processCpuSeconds(w.child.pid!) ?? 0);
    const bench0 = process.cpuUsage();
    const s0 = serverCpu();
    const ferretMem = ferretSampler();
    const t0 = performance.now();
    const start = await api.client.request('POST', '/migration/sync/backfill');
    const postS = (performance.now() - t0) / 1000;
    progress(BENCH, `(c) POST /migration/sync/backfill answered ${start.status} after ${round(postS, 1)} s: ${start.text.slice(0, 200)}`);
    if (start.status === 404) throw new EngineMissing('POST /migration/sync/backfill answers 404: the backfill endpoint is not wired yet');
    if (start.status !== 202 && start.status !== 200)
      throw new Error(`POST /migration/sync/backfill -> ${start.status} ${start.text.slice(0, 300)}`);
    const tick = ticker(`${BENCH} [${label}]`);
    const rssTrace: Array<[number, number]> = [];
    const remaining = Math.max(10, timeoutS - (performance.now() - t0) / 1000);
    const poll = await pollUntil(
      async () => (await api!.client.expect<SyncStatus | null>(200, 'GET', '/migration/sync')).body,
      (s) => s?.backfill?.status === 'completed' || s?.backfill?.status === 'failed',
      {
        timeoutS: remaining,
        everyMs: 1000,
        onTick: (s, t) => {
          const b = s?.backfill;
          if (b) rssTrace.push([Number(b.counts.read), round(Math.max(...workers.map((w) => w.mem.samples().at(-1) ?? 0)), 1)]);
          const split =
            b && !b.splitComplete && b.split ? `split ${b.split.state} ${b.split.idsScanned ?? 0}/${b.split.estimate ?? '?'} ids, ` : '';
          if (b)
            tick(
              `${split}${b.status} ${b.percent}% read ${b.counts.read} written ${b.counts.written} dead ${b.counts.dead}, ranges ${b.ranges.done}/${b.ranges.total}, ${b.rate.docsPerSecond} docs/s, RSS ${workers.map((w) => round(w.mem.samples().at(-1) ?? 0, 0)).join('/')} MB`,
              t,
            );
        },
      },
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const servers = cpuDelta(s0, serverCpu());
    ferretMem?.stop();
    const bench = process.cpuUsage(bench0);
    const b = poll.last?.backfill;
    if (b?.status === 'failed') throw new Error(`the backfill run failed: ${JSON.stringify(b).slice(0, 500)}`);
    const completed = poll.done;
    const docs = completed ? ds.docs : Number(b?.counts?.read ?? 0);
    const counts = completed ? await tableCounts(pg.databaseUrl) : null;
    const result: EngineRun = {
      docs,
      completed,
      elapsedS,
      docsPerS: docs / elapsedS,
      mbPerS: (ds.bsonBytes * (docs / ds.docs)) / 1e6 / elapsedS,
      workers: workers.map((w, i) => ({
        pid: w.child.pid!,
        peak_rss_mb: round(w.mem.peakMb(), 1),
        idle_rss_mb: round(w.idleRssMb, 1),
        cpu_s: (() => {
          const c = processCpuSeconds(w.child.pid!);
          return c === null ? null : round(c - cpu0[i], 1);
        })(),
      })),
      status: b,
      counts,
      servers,
      benchCpuS: (bench.user + bench.system) / 1e6,
      ferretMaxRssMb: ferretMem ? round(maxSample(ferretMem), 0) : null,
      postS,
      phases: enginePhases(workers),
      rssTrace,
      pg,
    };
    progress(
      BENCH,
      `(c) backfill [${label}]: ${completed ? 'completed' : 'NOT completed'}: ${docs} docs in ${round(elapsedS, 1)} s = ${round(result.docsPerS, 0)} docs/s; peak RSS ${result.workers.map((w) => w.peak_rss_mb).join(', ')} MB`,
    );
    progress(BENCH, `(c) backfill [${label}] phases: ${JSON.stringify(result.phases)}`);
    if (completed && counts && (counts.conversations !== ds.docs || counts.messages !== ds.messages)) {
      progress(
        BENCH,
        `(c) WARNING: backfill left ${JSON.stringify(counts)}, expected ${ds.docs} conversations and ${ds.messages} messages`,
      );
    }
    if (completed && keep) setBackfilled({ databaseUrl: pg.databaseUrl, pgName: pg.pgName, by: 'backfill', datasetDb: ds.dbName });
    return result;
  } finally {
    for (const w of workers) w.mem.stop();
    await api?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await emptyQueues([QueueName.Backfill, QueueName.Catchup]);
    if (!keep) await pg.drop();
  }
}

export interface EnginePhases {
  split: { ms: number; ranges: number; lanes: number; scanned: number; exact: boolean } | null;
  lanes: Array<Record<string, unknown>>;
}

/** The engine's `backfill split complete` and `lane ended` log lines, from every worker's output. */
function enginePhases(workers: WorkerProc[]): EnginePhases {
  // A JSON log line: its fields as the logger wrote them.
  const entries: Array<Record<string, unknown>> = [];
  for (const w of workers) {
    for (const line of w.output().split('\n')) {
      if (!line.startsWith('{') || !/"(backfill split complete|lane ended)"/.test(line)) continue;
      try {
        entries.push({ ...(JSON.parse(line) as Record<string, unknown>), worker: w.child.pid });
      } catch {
        /* a line cut by the output buffer */
      }
    }
  }
  const split = entries.find((e) => e.msg === 'backfill split complete');
  const pick = (e: Record<string, unknown>, keys: string[]) =>
    Object.fromEntries(keys.filter((k) => e[k] !== undefined).map((k) => [k, e[k]]));
  return {
    split: split ? (pick(split, ['ms', 'ranges', 'lanes', 'scanned', 'exact']) as EnginePhases['split']) : null,
    lanes: entries
      .filter((e) => e.msg === 'lane ended')
      .map((e) =>
        pick(e, [
          'worker',
          'head',
          'outcome',
          'ranges',
          'docs',
          'batches',
          'ms',
          'firstReadMs',
          'readWaitMs',
          'transformMs',
          'writeMs',
          'throttleMs',
        ]),
      ),
  };
}

class EngineMissing extends Error {}

function skipped(figure: string, reason: string, extra: Record<string, unknown> = {}): BenchLine {
  return { bench: BENCH, figure, skipped: true, reason, ...extra };
}

// ------------------------------------------------------------------------------------ scenario

function sizesOf(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const sizes = raw.split(',').map((x) => Number(x.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 100)) throw new Error(`${name}=${raw}: integers >= 100, comma-separated`);
  return sizes;
}

/** Raw pipeline and the service's backfill on one data set: the comparison line, and the engine run. */
async function compareAtSize(
  ds: Dataset,
  lines: BenchLine[],
  loop: Measured | null,
  first: boolean,
): Promise<{ raw: Measured; main: EngineRun } | null> {
  const raw = await rawPipeline(ds, lines);
  const timeoutS = envInt('BENCH_BACKFILL_TIMEOUT_S', Math.max(60, Math.round(raw.elapsedS * 1.5)));
  let main: EngineRun;
  try {
    main = await engineBackfill(ds, first ? 'main' : `${ds.docs}`, timeoutS, first);
  } catch (err) {
    if (!(err instanceof EngineMissing)) throw err;
    lines.push(skipped('backfill_vs_raw_pipeline', err.message, { target: `>=${RAW_TARGET}` }));
    return null;
  }
  const measured = {
    docs: main.docs,
    of_docs: ds.docs,
    completed: main.completed,
    elapsed_s: round(main.elapsedS, 2),
    docs_per_s: round(main.docsPerS, 0),
    mb_per_s: round(main.mbPerS, 2),
    post_answered_after_s: round(main.postS, 1),
    ...(main.completed
      ? {}
      : { note: `stopped at the ${timeoutS} s timeout (or when the POST answered, if later); rate over the documents read so far` }),
  };
  const profile = {
    workers: main.workers,
    bench_process_cpu_s: round(main.benchCpuS, 1),
    ferretdb_max_rss_mb: main.ferretMaxRssMb,
    ...Object.fromEntries(Object.entries(main.servers).map(([k, v]) => [`${k}_cpu_s`, round(v, 1)])),
    phases: main.phases,
    run: main.status
      ? {
          ranges: main.status.ranges,
          counts: main.status.counts,
          batch_size: main.status.batchSize,
          started_at: main.status.startedAt,
          finished_at: main.status.finishedAt,
        }
      : null,
    tables: main.counts,
  };
  const rRaw = ratio(main.docsPerS, raw.docsPerS);
  lines.push({
    bench: BENCH,
    figure: 'backfill_vs_raw_pipeline',
    docs: ds.docs,
    backfill: measured,
    baseline: { docs_per_s: round(raw.docsPerS, 0), mb_per_s: round(raw.mbPerS, 2), elapsed_s: round(raw.elapsedS, 2) },
    ratio: rRaw,
    mb_ratio: ratio(main.mbPerS, raw.mbPerS),
    target: `>=${RAW_TARGET}`,
    pass: main.completed && rRaw >= RAW_TARGET,
    profile,
  });
  if (loop) {
    const rLoop = ratio(main.docsPerS, loop.docsPerS);
    lines.push({
      bench: BENCH,
      figure: 'backfill_vs_seed_loop',
      backfill: measured,
      baseline: { docs_per_s: round(loop.docsPerS, 1), mb_per_s: round(loop.mbPerS, 3), without_sleep: true, docs: loop.docs },
      ratio: rLoop,
      ratio_vs_loop_with_sleep: ratio(main.docsPerS, loop.docs / (loop.elapsedS + Math.ceil(loop.docs / 1000))),
      // What reading this legacy server allows at best: the raw pipeline against the same loop.
      ceiling_raw_pipeline_vs_seed_loop: ratio(raw.docsPerS, loop.docsPerS),
      target: `>=${LOOP_TARGET}`,
      pass: main.completed && rLoop >= LOOP_TARGET,
    });
  }
  if (!first) await main.pg.drop();
  return { raw, main };
}

export async function run(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const mainDocs = envInt('BENCH_DOCS', 200_000);
  const compareSizes = sizesOf('BENCH_BACKFILL_SIZES', [mainDocs]);
  const rssOnly = sizesOf('BENCH_RSS_DOCS', [Math.max(2000, Math.floor(mainDocs / 10))]).filter((n) => !compareSizes.includes(n));

  const missing = process.env.BENCH_BACKFILL_ENGINE === '0' ? 'disabled by BENCH_BACKFILL_ENGINE=0' : engineMissing('backfill');
  const sizes: Array<Record<string, unknown>> = [];
  let largest: { docs: number; run: EngineRun } | null = null;
  for (const [i, docs] of compareSizes.entries()) {
    const ds = docs === mainDocs ? await sharedDataset() : await datasetOf(docs);
    lines.push({ bench: BENCH, figure: 'dataset', ...describeDataset(ds) });
    if (i === 0) {
      const loop = await seedLoopBaseline(ds, lines);
      if (missing) {
        const raw = await rawPipeline(ds, lines);
        progress(BENCH, `(c) skipped: ${missing}`);
        lines.push(
          skipped('backfill_vs_raw_pipeline', missing, { target: `>=${RAW_TARGET}`, baseline_docs_per_s: round(raw.docsPerS, 0) }),
        );
        lines.push(
          skipped('backfill_vs_seed_loop', missing, {
            target: `>=${LOOP_TARGET}`,
            baseline_docs_per_s: round(loop.docsPerS, 1),
            ceiling_raw_pipeline_vs_seed_loop: ratio(raw.docsPerS, loop.docsPerS),
          }),
        );
        lines.push(
          skipped('backfill_peak_rss', missing, { target: `<${RSS_TARGET_MB} MB at 1,000,000 documents, flat in the document count` }),
        );
        return lines;
      }
      const r = await compareAtSize(ds, lines, loop, true);
      if (!r) return lines;
      sizes.push(sizeEntry(ds.docs, r.main));
      if (!largest || docs > largest.docs) largest = { docs, run: r.main };
      flushLines(lines);
    } else {
      const r = await compareAtSize(ds, lines, null, false);
      if (!r) continue;
      sizes.push(sizeEntry(ds.docs, r.main));
      if (!largest || docs > largest.docs) largest = { docs, run: r.main };
      flushLines(lines);
    }
  }
  // Peak memory at more sizes (the backfill alone): flat means about the same peak at every size.
  for (const docs of rssOnly) {
    const ds = await datasetOf(docs);
    const timeoutS = envInt('BENCH_RSS_SMALL_TIMEOUT_S', Math.max(120, Math.round(docs / 150)));
    const s = await engineBackfill(ds, `rss-${docs}`, timeoutS, false);
    sizes.push(sizeEntry(docs, s));
    if (!largest || docs > largest.docs) largest = { docs, run: s };
  }
  sizes.sort((a, b) => (a.docs as number) - (b.docs as number));
  const peak = Math.max(...sizes.map((x) => x.peak_rss_mb as number));
  // A size whose run copied nothing says nothing about growth.
  const growth =
    sizes.length > 1 && sizes.every((x) => (x.docs_processed as number) > 0)
      ? ratio(sizes[sizes.length - 1].peak_rss_mb as number, sizes[0].peak_rss_mb as number)
      : NaN;
  const largestDocs = Math.max(...sizes.map((x) => x.docs as number));
  lines.push({
    bench: BENCH,
    figure: 'backfill_peak_rss',
    measure: `VmHWM of each worker process (${workerRuntime() === 'js' ? 'plain JavaScript, as npm run worker runs it' : 'ts-node --transpile-only'}), from /proc; the workers do the split and the copy, the API runs in the bench process`,
    by_docs: Object.fromEntries(sizes.map((x) => [x.docs as number, x.peak_rss_mb])),
    sizes,
    peak_rss_mb: peak,
    growth_ratio: growth,
    target: `<${RSS_TARGET_MB} MB at 1,000,000 documents, flat in the document count`,
    pass: peak < RSS_TARGET_MB && (Number.isNaN(growth) || growth < 1.25) && sizes.every((x) => x.completed) && largestDocs >= 1_000_000,
    ...(largestDocs < 1_000_000
      ? {
          note: `largest size measured ${largestDocs} documents: the 1,000,000 figure needs BENCH_BACKFILL_SIZES or BENCH_RSS_DOCS to include it`,
        }
      : {}),
  });
  if (largest && largest.run.rssTrace.length > 1) {
    lines.push({
      bench: BENCH,
      figure: 'backfill_rss_over_run',
      docs: largest.docs,
      points: largest.run.rssTrace.length,
      max_rss_mb: Math.max(...largest.run.rssTrace.map((p) => p[1])),
      // The highest RSS sampled until that many documents had been copied: flat means it stopped growing early.
      rss_mb_by_docs_copied: Object.fromEntries(
        [100_000, 500_000, 1_000_000, largest.docs]
          .filter((n, i, a) => n <= largest.docs && a.indexOf(n) === i)
          .map((n) => [n, Math.max(0, ...largest.run.rssTrace.filter((p) => p[0] <= n).map((p) => p[1]))]),
      ),
      chart: {
        id: 'backfill-rss',
        title: `Worker RSS (MB) over a backfill of ${largest.docs.toLocaleString('en-US')} documents`,
        kind: 'line',
        x: 'documents copied',
        y: 'RSS of the largest worker (MB)',
        series: [
          { name: 'worker RSS', points: largest.run.rssTrace },
          {
            name: `${RSS_TARGET_MB} MB target`,
            points: [
              [0, RSS_TARGET_MB],
              [largest.docs, RSS_TARGET_MB],
            ],
          },
        ],
      },
    });
  }
  return lines;
}

function sizeEntry(docs: number, r: EngineRun): Record<string, unknown> {
  return {
    docs,
    completed: r.completed,
    docs_processed: r.docs,
    peak_rss_mb: Math.max(...r.workers.map((w) => w.peak_rss_mb)),
    docs_per_s: round(r.docsPerS, 0),
    workers: r.workers,
  };
}
