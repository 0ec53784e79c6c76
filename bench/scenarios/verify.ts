/**
 * verify (SPEC §6: "verification throughput vs raw scans of both stores", target at least 0.5x).
 *
 * The data: the shared data set (bench/lib/dataset.ts) in the legacy store and, in PostgreSQL, what
 * the backfill scenario copied from it in this run (the service's backfill if it completed, else the
 * raw COPY pipeline's copy); run on its own, this scenario makes the raw copy itself.
 *
 * Baseline, raw scans: the legacy collection through one cursor sorted by `_id` (large batches) and,
 * at the same time, PostgreSQL's conversations and messages in key order through server-side cursors
 * (rows parsed by node-postgres), nothing else; the wall time until all three are read.
 *
 * Measured: a verification run as an operator starts it (POST /migration/verify on the API in this
 * process, default settings unless BENCH_VERIFY_BODY is given as JSON; polling GET
 * /migration/verify/:id until it is completed), executed by BENCH_VERIFY_WORKERS worker processes
 * (WORKER_QUEUES=verify). Throughput in legacy documents/s and MB/s of legacy BSON. The report's
 * totals are included: on an exact copy it must be clean. A run that does not finish within
 * BENCH_VERIFY_TIMEOUT_S (default 2.2x the raw scans, at least 60 s: by
 * then it has missed the 0.5x target) is reported with its rate so far
 * and `completed: false`.
 *
 * Knobs (defaults): BENCH_VERIFY_ENGINE (1; 0 skips the engine), BENCH_VERIFY_WORKERS (1),
 * BENCH_VERIFY_TIMEOUT_S, BENCH_VERIFY_BODY ({}), BENCH_SCAN_BATCH (5000), BENCH_RAW_SORTED (1).
 */
import { QueueName } from '../../src/queues/queue-names';
import { datasetOf, Dataset, describeDataset, sharedDataset } from '../lib/dataset';
import { emptyQueues, engineMissing, pollUntil, spawnWorker, startOperatorApi, ticker, WorkerProc, workerEnv } from '../lib/engine';
import { createFreshPostgres } from '../lib/fresh-db';
import { envInt, progress, round } from '../lib/log';
import { cpuDelta, processCpuSeconds, serverCpu, servicePid } from '../lib/proc-cpu';
import { maxSample, sampleMemory } from '../lib/proc-mem';
import { PG_CONVERSATIONS_SCAN, PG_MESSAGES_SCAN, rawCopy, rates, scanLegacy, scanPostgres } from '../lib/raw-pipeline';
import { Backfilled, getBackfilled, setBackfilled } from '../lib/shared';
import { ratio } from '../lib/stats';
import type { VerifyReport } from '../../src/dashboard/web/types';
import type { BenchLine } from '../lib/types';

const BENCH = 'verify';
const TARGET = 0.5;

/** A PostgreSQL copy of `ds` for verification to compare: the backfill's of this run, else a raw COPY. */
export async function ensureCopy(ds: Dataset): Promise<Backfilled> {
  const found = getBackfilled(ds.dbName);
  if (found) return found;
  const pg = await createFreshPostgres('verifycopy', { runScoped: true });
  progress(BENCH, 'no backfilled database from this run: filling one with the raw COPY pipeline');
  await rawCopy({
    legacyUrl: ds.legacyUrl,
    collection: ds.collection,
    databaseUrl: pg.databaseUrl,
    sorted: true,
    cursorBatch: 5000,
    chunk: 2000,
    writers: 2,
  });
  const b: Backfilled = { databaseUrl: pg.databaseUrl, pgName: pg.pgName, by: 'raw_copy', datasetDb: ds.dbName };
  setBackfilled(b);
  return b;
}

async function rawScans(ds: Dataset, target: Backfilled) {
  const batch = envInt('BENCH_SCAN_BATCH', 5000);
  const sorted = envInt('BENCH_RAW_SORTED', 1, 0) === 1;
  const s0 = serverCpu();
  const t0 = performance.now();
  const fpid = servicePid('ferretdb');
  const ferretMem = fpid ? sampleMemory(fpid, 500) : null;
  const [legacy, conversations, messages] = await Promise.all([
    scanLegacy(ds.legacyUrl, ds.collection, sorted, batch),
    scanPostgres(target.databaseUrl, PG_CONVERSATIONS_SCAN, batch),
    scanPostgres(target.databaseUrl, PG_MESSAGES_SCAN, batch * 10),
  ]);
  const elapsedS = (performance.now() - t0) / 1000;
  const servers = cpuDelta(s0, serverCpu());
  ferretMem?.stop();
  if (ferretMem) servers.ferretdb_max_rss_mb = round(maxSample(ferretMem), 0);
  if (legacy.rows !== ds.docs) throw new Error(`raw legacy scan read ${legacy.rows} documents, expected ${ds.docs}`);
  return { legacy, conversations, messages, elapsedS, servers, sorted, batch };
}

export interface VerifyRunResult {
  completed: boolean;
  elapsedS: number;
  compared: number;
  summary: VerifyReport | null;
  workers: Array<{ pid: number; peak_rss_mb: number; idle_rss_mb: number; cpu_s: number | null }>;
  servers: Record<string, number>;
  benchCpuS: number;
  /** How long POST /migration/verify took to answer (the API counts the legacy documents first). */
  postS: number;
  ferretMaxRssMb: number | null;
}

/** One verification run of `target` against `ds` by `n` worker processes (also the scale-out scenario's). */
export async function engineVerify(
  ds: Dataset,
  target: Backfilled,
  timeoutS: number,
  n = envInt('BENCH_VERIFY_WORKERS', 1),
): Promise<VerifyRunResult | { missing: string }> {
  const body = process.env.BENCH_VERIFY_BODY ? JSON.parse(process.env.BENCH_VERIFY_BODY) : {};
  await emptyQueues([QueueName.Verify]);
  const workers: WorkerProc[] = [];
  let api: Awaited<ReturnType<typeof startOperatorApi>> | undefined;
  try {
    const env = workerEnv(target.databaseUrl, ds.legacyUrl, 'verify', { CATCHUP_INTERVAL_MS: '0' });
    for (let i = 0; i < n; i++) workers.push(await spawnWorker(`verify-${i}`, env));
    api = await startOperatorApi(target.databaseUrl, ds.legacyUrl, { CATCHUP_INTERVAL_MS: '0' });
    progress(
      BENCH,
      `verification run: ${n} worker process(es) (pids ${workers.map((w) => w.child.pid).join(', ')}), body ${JSON.stringify(body)}, timeout ${timeoutS} s`,
    );
    const cpu0 = workers.map((w) => processCpuSeconds(w.child.pid!) ?? 0);
    const bench0 = process.cpuUsage();
    const s0 = serverCpu();
    const fpid = servicePid('ferretdb');
    const ferretMem = fpid ? sampleMemory(fpid, 500) : null;
    const t0 = performance.now();
    const start = await api.client.request<{ id: number }>('POST', '/migration/verify', body);
    const postS = (performance.now() - t0) / 1000;
    progress(BENCH, `POST /migration/verify answered ${start.status} after ${round(postS, 1)} s`);
    if (start.status === 404) return { missing: 'POST /migration/verify answers 404: the verification endpoint is not wired yet' };
    if (start.status !== 202) throw new Error(`POST /migration/verify -> ${start.status} ${start.text.slice(0, 300)}`);
    const runId = start.body.id;
    const tick = ticker(BENCH);
    const poll = await pollUntil(
      async () => (await api!.client.expect<VerifyReport | null>(200, 'GET', `/migration/verify/${runId}?limit=5`)).body,
      (s) => s?.status === 'completed' || s?.status === 'failed',
      {
        timeoutS: Math.max(10, timeoutS - (performance.now() - t0) / 1000),
        everyMs: 1000,
        onTick: (s, t) => {
          const p = s?.progress;
          if (p)
            tick(
              `${s.status}/${s.phase} ${p.percent}% compared ${p.recordsCompared}, chunks ${p.chunksDone} (${p.chunksDiffering} differing), ${p.ratePerSecond}/s, totals ${JSON.stringify(s.totals)}, RSS ${workers.map((w) => round(w.mem.samples().at(-1) ?? 0, 0)).join('/')} MB`,
              t,
            );
        },
      },
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const servers = cpuDelta(s0, serverCpu());
    ferretMem?.stop();
    const bench = process.cpuUsage(bench0);
    const s = poll.last;
    if (s?.status === 'failed') throw new Error(`verification run ${runId} failed: ${s.error}`);
    const result: VerifyRunResult = {
      completed: poll.done,
      elapsedS,
      compared: poll.done ? ds.docs : Number(s?.progress?.recordsCompared ?? 0),
      summary: s,
      workers: workers.map((w, i) => {
        const c = processCpuSeconds(w.child.pid!);
        return {
          pid: w.child.pid!,
          peak_rss_mb: round(w.mem.peakMb(), 1),
          idle_rss_mb: round(w.idleRssMb, 1),
          cpu_s: c === null ? null : round(c - cpu0[i], 1),
        };
      }),
      servers,
      benchCpuS: (bench.user + bench.system) / 1e6,
      postS,
      ferretMaxRssMb: ferretMem ? round(maxSample(ferretMem), 0) : null,
    };
    progress(
      BENCH,
      `verification run ${runId}: ${result.completed ? 'completed' : 'NOT completed'} in ${round(elapsedS, 1)} s, compared ${s?.progress?.recordsCompared}, clean ${s?.clean}, totals ${JSON.stringify(s?.totals)}`,
    );
    return result;
  } finally {
    for (const w of workers) w.mem.stop();
    await api?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await emptyQueues([QueueName.Verify]);
  }
}

export async function run(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const ds = process.env.BENCH_VERIFY_DOCS ? await datasetOf(envInt('BENCH_VERIFY_DOCS', 1)) : await sharedDataset();
  const target = await ensureCopy(ds);
  progress(BENCH, `comparing legacy ${ds.dbName} with ${target.pgName} (filled by ${target.by})`);

  progress(BENCH, 'raw scans of both stores');
  const raw = await rawScans(ds, target);
  const rawRate = rates(ds.docs, ds.bsonBytes, raw.elapsedS);
  progress(
    BENCH,
    `raw scans: ${round(raw.elapsedS, 1)} s (legacy ${round(raw.legacy.elapsedS, 1)} s, first document after ${round(raw.legacy.firstRowS ?? 0, 1)} s; conversations ${round(raw.conversations.elapsedS, 1)} s; messages ${round(raw.messages.elapsedS, 1)} s) = ${rawRate.docs_per_s} docs/s`,
  );
  const baseline = {
    elapsed_s: round(raw.elapsedS, 2),
    ...rawRate,
    legacy_scan: {
      docs: raw.legacy.rows,
      elapsed_s: round(raw.legacy.elapsedS, 2),
      first_doc_s: round(raw.legacy.firstRowS ?? 0, 2),
      sorted: raw.sorted,
      batch: raw.batch,
    },
    pg_conversations_scan: { rows: raw.conversations.rows, elapsed_s: round(raw.conversations.elapsedS, 2) },
    pg_messages_scan: { rows: raw.messages.rows, elapsed_s: round(raw.messages.elapsedS, 2) },
    ...Object.fromEntries(Object.entries(raw.servers).map(([k, v]) => [k.endsWith('_mb') ? k : `${k}_cpu_s`, round(v, 1)])),
  };
  lines.push({ bench: BENCH, figure: 'raw_scans', dataset: describeDataset(ds), pg_filled_by: target.by, ...baseline });

  const missing = process.env.BENCH_VERIFY_ENGINE === '0' ? 'disabled by BENCH_VERIFY_ENGINE=0' : engineMissing('verify');
  if (missing) {
    progress(BENCH, `verification skipped: ${missing}`);
    lines.push({ bench: BENCH, figure: 'verify_vs_raw_scans', skipped: true, reason: missing, baseline, target: `>=${TARGET}` });
    return lines;
  }
  const timeoutS = envInt('BENCH_VERIFY_TIMEOUT_S', Math.max(60, Math.round(raw.elapsedS * 2.2)));
  const v = await engineVerify(ds, target, timeoutS);
  if ('missing' in v) {
    lines.push({ bench: BENCH, figure: 'verify_vs_raw_scans', skipped: true, reason: v.missing, baseline, target: `>=${TARGET}` });
    return lines;
  }
  const measuredRate = rates(v.compared, ds.bsonBytes * (v.compared / ds.docs), v.elapsedS);
  const r = ratio(measuredRate.docs_per_s, rawRate.docs_per_s);
  const s = v.summary;
  lines.push({
    bench: BENCH,
    figure: 'verify_vs_raw_scans',
    verification: {
      run_id: s?.id,
      completed: v.completed,
      docs: v.compared,
      elapsed_s: round(v.elapsedS, 2),
      ...measuredRate,
      status: s?.status,
      clean: s?.clean,
      totals: s?.totals,
      settings: s?.settings,
      engine_elapsed_s: s?.progress?.elapsedSeconds,
      ...(v.completed ? {} : { note: `stopped after the ${timeoutS} s timeout; rate over the records compared so far` }),
    },
    baseline,
    ratio: r,
    target: `>=${TARGET}`,
    pass: v.completed && r >= TARGET && s?.clean === true,
    // POST /migration/verify counts the legacy documents before it answers; on FerretDB that count decodes
    // every document (on MongoDB it is metadata). The ratio without that wait shows what the walk itself costs.
    ratio_excluding_post: v.elapsedS > v.postS ? ratio(v.compared / (v.elapsedS - v.postS), rawRate.docs_per_s) : null,
    profile: {
      workers: v.workers,
      bench_process_cpu_s: round(v.benchCpuS, 1),
      post_answered_after_s: round(v.postS, 1),
      ferretdb_max_rss_mb: v.ferretMaxRssMb,
      ...Object.fromEntries(Object.entries(v.servers).map(([k, x]) => [`${k}_cpu_s`, round(x, 1)])),
    },
  });
  return lines;
}
