/**
 * shadow (SPEC §6: "read p99 with shadow sampling at 10 % vs sampling off", target at most 1.05x; and the
 * shadow queue's depth under a burst).
 *
 * Starts the real API twice, each in a process of its own as production runs it (the transpiled
 * dist/src/main.js) on the same fresh databases, one with SHADOW_SAMPLE_RATE=0.1 and one with 0 (the
 * setting is read at boot), in phase `shadow` (reads served from the legacy store), and a
 * real worker process serving only the shadow queue (`workers/worker.ts`, WORKER_QUEUES=shadow), so the
 * comparisons run as in production: off the request path, on another process, against the same stores.
 * The reads are GET /conversations/:id (80 %) and GET /conversations?userId= (20 %) over a seeded pool. A round
 * is four half windows, ABBA within the round (the first and last with one setting, the middle two with the
 * other; the setting that starts alternates from round to round), the k-th half window of each setting with
 * the same seeded request sequence: a drift of the machine over the round (the store warming, a neighbour)
 * weighs on both settings alike, where one window each would hand it to the setting measured second. A round's
 * ratio compares its two half windows of each setting pooled; each setting's samples are also pooled over the
 * rounds. The rounds run twice: first as a closed loop at fixed concurrency, the judged
 * read_p99_ratio (SPEC §6 compares the two settings under the same load); then, reported beside it
 * (read_p99_ratio_at_rate), as an open loop at a fixed rate, half the closed loop's throughput without
 * sampling, each latency from the read's due time: the tail a client sees at a load the store serves.
 *
 * Then two bursts: a third API instance samples every read (rate 1) into a small queue
 * (BENCH_SHADOW_BURST_QUEUE_MAX) and takes BENCH_SHADOW_BURST reads at twice the concurrency, once with the
 * worker comparing and once with it stopped (a pace of zero: every sample beyond the bound must be dropped);
 * the queue depth is polled throughout. Reported: the deepest the queue got against its bound, samples
 * enqueued and dropped, and the burst's read latency.
 *
 * The primary side of a comparison is the reply that travelled with the sample, so the worker's extra load
 * on the store that serves reads is calibration (5 %) and rechecks only; `cpu_ms_per_read` shows where the
 * work lands (database servers, worker, the API processes, this process's load generator).
 *
 * Knobs (defaults): BENCH_CONCURRENCY (16), BENCH_SHADOW_REQUESTS (3000 per closed-loop round and
 * setting), BENCH_SHADOW_MAX_SECONDS (15 per closed-loop round and setting), BENCH_SHADOW_OPEN_SECONDS (30 per
 * open-loop round and setting, whatever the count), BENCH_SHADOW_RATE (reads/s of the open loop; default half
 * the closed loop's throughput without sampling), BENCH_SHADOW_ROUNDS (3), BENCH_SHADOW_POOL (200 conversations),
 * BENCH_SHADOW_WARMUP (300), BENCH_SHADOW_BURST (2000), BENCH_SHADOW_BURST_QUEUE_MAX (100), BENCH_SHADOW_SAMPLE_RATE (0.1;
 * 0 runs the rounds as an A/A test, both APIs without sampling, and skips the bursts).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { Queue } from 'bullmq';
import type { Conversation } from '../../src/model/conversation.model';
import { newConversationId } from '../../src/model/object-id';
import { ShadowQueue } from '../../src/shadow/shadow-queue';
import { ShadowSampler } from '../../src/shadow/shadow-sampler';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../../src/stores/conversation-store.port';
import { redisForQueues } from '../../src/stores/redis';
import { readRedisConfig } from '../../src/stores/stores.config';
import { EnvReader } from '../../src/config/env-reader';
import { BenchApi, startApi } from '../lib/api';
import { ApiProc, scenarioRedisEnv, spawnApi, spawnWorker, workerEnv } from '../lib/engine';
import type { JsonClient } from '../lib/http';
import { onCleanup } from '../lib/cleanup';
import { createFreshDatabases, FreshDatabases } from '../lib/fresh-db';
import { closedLoop, LoadResult, openLoop } from '../lib/load';
import { envInt, progress, round, sleep } from '../lib/log';
import { cpuDelta, serverCpu } from '../lib/proc-cpu';
import { Sample } from '../lib/prom';
import { servicesEnv } from '../lib/services';
import { ratio, summarize } from '../lib/stats';
import type { BenchLine } from '../lib/types';

const BENCH = 'shadow';
const TARGET = 1.05;
/**
 * The sampling API's rate, BENCH_SHADOW_SAMPLE_RATE (0.1, as SPEC section 6 sets it). 0 makes the run an A/A test:
 * both APIs sample nothing, and the ratios show what this machine makes of two identical settings (no target).
 */
const RATE = sampleRate();
const A_A = RATE === 0;

function sampleRate(): number {
  const raw = process.env.BENCH_SHADOW_SAMPLE_RATE;
  if (raw === undefined || raw.trim() === '') return 0.1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`BENCH_SHADOW_SAMPLE_RATE=${raw} must be a number from 0 to 1`);
  return n;
}
/** The open-loop rate, as a share of the closed-loop throughput without sampling in the same run. */
const RATE_SHARE = 0.5;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = 20;

function conversation(i: number): Conversation {
  const at = new Date(Date.UTC(2024, 0, 1) + i * 60_000);
  return {
    id: newConversationId(at),
    userId: `shadow-bench-user-${i % USERS}`,
    title: `Shadow bench conversation ${i}`,
    messages: Array.from({ length: 4 }, (_, m) => ({
      role: m % 2 === 0 ? 'user' : 'assistant',
      content: `message ${m} of conversation ${i} `.repeat(8),
      createdAt: new Date(at.getTime() + m),
    })),
    metadata: { source: 'bench', seq: i, tags: ['shadow', `t${i % 5}`] },
    createdAt: at,
    updatedAt: new Date(at.getTime() + 3),
    version: 1,
    deleted: false,
  };
}

/** The same conversations in both stores, as dual writes would have left them. */
async function seed(api: BenchApi, n: number): Promise<string[]> {
  const legacy = api.app.get<ConversationStore>(LEGACY_STORE);
  const pg = api.app.get<ConversationStore>(NEW_STORE);
  const docs = Array.from({ length: n }, (_, i) => conversation(i));
  await closedLoop(
    async (i) => {
      await Promise.all([legacy.insertNew(docs[i]), pg.insertNew(docs[i])]);
    },
    { concurrency: 8, count: n },
  );
  return docs.map((d) => d.id);
}

function reads(api: { client: JsonClient }, ids: string[], seed: number, concurrency: number) {
  const rands = Array.from({ length: concurrency }, (_, w) => mulberry32(seed * 1000 + w));
  return async (_i: number, w: number): Promise<string> => {
    const r = rands[w];
    if (r() < 0.8) {
      await api.client.expect(200, 'GET', `/conversations/${ids[Math.floor(r() * ids.length)]}`);
      return 'get';
    }
    await api.client.expect(200, 'GET', `/conversations?userId=shadow-bench-user-${Math.floor(r() * USERS)}&limit=10`);
    return 'list';
  };
}

/** A real worker process serving only the shadow queue (as `npm run worker` runs it), on the scenario's databases and Redis database. */
async function startWorker(
  dbs: FreshDatabases,
  redisEnv: Record<string, string>,
): Promise<{ proc: ChildProcess; stop: () => Promise<void> }> {
  const w = await spawnWorker('shadow', workerEnv(dbs.databaseUrl, dbs.legacyUrl, 'shadow', redisEnv));
  return { proc: w.child, stop: w.stop };
}

async function waitForWorker(queue: Queue, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while ((await queue.getWorkers()).length === 0) {
    if (proc.exitCode !== null) throw new Error(`the shadow worker exited with ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error('the shadow worker did not start within 90 s');
    await sleep(200);
  }
}

function counter(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** Polls the queue depth in samples (as the bound counts it) until stopped; resolves to the maximum seen. */
function watchDepth(queue: ShadowQueue, everyMs: number): { stop: () => Promise<number> } {
  let running = true;
  let max = 0;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await queue.depth());
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return max;
    },
  };
}

interface Window {
  load: LoadResult;
  enqueued: number;
  dropped: number;
  maxDepth: number;
  /** CPU seconds during the window: database servers, the worker process, this process (API + load). */
  cpu: Record<string, number>;
}

/** CPU seconds (user + system) used so far by a process, from /proc; 0 when unknown. */
function processCpu(pid: number | undefined): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Waits until the API's sample counter has stood still for a moment (bounded): the samples of the reads
 * just answered are offered after their responses were sent.
 */
async function samplesSettled(api: ApiProc): Promise<void> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const n = counter(await api.metrics(), 'shadow_samples_total');
    if (n === last) return;
    last = n;
    await sleep(200);
  }
}

async function runWindow(
  api: ApiProc,
  ids: string[],
  seed: number,
  queue: ShadowQueue,
  workerPid: number | undefined,
  opts: { concurrency: number; requests: number; maxSeconds: number },
  rate?: number,
): Promise<Window> {
  const before = await api.metrics();
  const depth = watchDepth(queue, 50);
  const [servers0, worker0, api0, self0] = [serverCpu(), processCpu(workerPid), processCpu(api.pid), process.cpuUsage()];
  const op = reads(api, ids, seed, opts.concurrency);
  // An open loop runs for its time (its count follows from the rate); a closed loop stops at whichever comes first.
  const limit = rate === undefined ? { count: opts.requests, durationMs: opts.maxSeconds * 1000 } : { durationMs: opts.maxSeconds * 1000 };
  const load =
    rate === undefined
      ? await closedLoop(op, { concurrency: opts.concurrency, ...limit })
      : await openLoop(op, { rate, clients: opts.concurrency, ...limit });
  const self = process.cpuUsage(self0);
  const cpu = {
    ...cpuDelta(servers0, serverCpu()),
    worker: processCpu(workerPid) - worker0,
    api: processCpu(api.pid) - api0,
    load: (self.user + self.system) / 1e6,
  };
  await samplesSettled(api);
  const maxDepth = await depth.stop();
  const after = await api.metrics();
  const delta = (result: string) =>
    counter(after, 'shadow_samples_total', { result }) - counter(before, 'shadow_samples_total', { result });
  if (load.errors > 0) throw new Error(`${load.errors} failed read(s), e.g. ${load.errorSamples[0]}`);
  return { load, enqueued: delta('enqueued'), dropped: delta('dropped'), maxDepth, cpu };
}

function side(windows: Window[]) {
  const all = windows.flatMap((w) => w.load.latenciesMs);
  const s = summarize(all);
  const elapsed = windows.reduce((n, w) => n + w.load.elapsedMs, 0);
  const cpu: Record<string, number> = {};
  for (const w of windows) for (const [k, v] of Object.entries(w.cpu)) cpu[k] = (cpu[k] ?? 0) + v;
  // CPU milliseconds per read, per process: where sampling's extra work lands.
  const cpuMsPerRead = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round((v * 1000) / all.length, 3)]));
  return {
    n: s.count,
    p50_ms: s.p50_ms,
    p90_ms: s.p90_ms,
    p99_ms: s.p99_ms,
    max_ms: s.max_ms,
    rps: round(all.length / (elapsed / 1000), 0),
    cpu_ms_per_read: cpuMsPerRead,
  };
}

export async function run(): Promise<BenchLine[]> {
  const concurrency = envInt('BENCH_CONCURRENCY', 16);
  const opts = { concurrency, requests: envInt('BENCH_SHADOW_REQUESTS', 3000), maxSeconds: envInt('BENCH_SHADOW_MAX_SECONDS', 15) };
  const rounds = envInt('BENCH_SHADOW_ROUNDS', 3);
  const poolSize = envInt('BENCH_SHADOW_POOL', 200);
  const warmup = envInt('BENCH_SHADOW_WARMUP', 300, 0);
  const burstN = envInt('BENCH_SHADOW_BURST', 2000);
  const burstMax = envInt('BENCH_SHADOW_BURST_QUEUE_MAX', 100);
  const fixedRate = envInt('BENCH_SHADOW_RATE', 0, 0);
  const openSeconds = envInt('BENCH_SHADOW_OPEN_SECONDS', 30);

  const redisEnv = scenarioRedisEnv();
  const redisConfig = readRedisConfig(new EnvReader({ ...servicesEnv(), ...redisEnv }));
  const dbs = await createFreshDatabases('shadow');
  const common = { ...redisEnv, SHADOW_CALIBRATION_RATE: '0.05' };
  // In this process: seeding, the phase and the database reads around the windows; the reads measured go to
  // two APIs in processes of their own, as production runs them (the load generator's garbage and this
  // process's other work stay out of their event loops and their GC).
  const control = await startApi(dbs, { concurrency, env: { ...common, SHADOW_SAMPLE_RATE: '0' } });
  // The queue as the bound counts it, on a connection of its own.
  const observerConnection = redisForQueues(redisConfig);
  if (observerConnection.status !== 'ready') await new Promise((resolve) => observerConnection.once('ready', resolve));
  const observer = new ShadowQueue(observerConnection, redisConfig.keyPrefix, Number.MAX_SAFE_INTEGER);
  const closeObserver = onCleanup('close the queue observer', () => observer.close());
  const lines: BenchLine[] = [];
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let on: ApiProc | undefined;
  let off: ApiProc | undefined;
  try {
    await observer.queue.obliterate({ force: true });
    await control.setPhase('shadow');
    const ids = await seed(control, poolSize);
    on = await spawnApi('shadow-sampling-on', dbs, { concurrency, env: { ...common, SHADOW_SAMPLE_RATE: String(RATE) } });
    off = await spawnApi('shadow-sampling-off', dbs, { concurrency, env: { ...common, SHADOW_SAMPLE_RATE: '0' } });
    progress(
      BENCH,
      `seeded ${ids.length} conversations in both stores; APIs on ${on.url} (pid ${on.pid}, sampling ${RATE}) and ${off.url} (pid ${off.pid}, off)`,
    );
    worker = await startWorker(dbs, redisEnv);
    await waitForWorker(observer.queue, worker.proc);
    progress(BENCH, `shadow worker up (pid ${worker.proc.pid})`);
    for (const api of [on, off]) await closedLoop(reads(api, ids, 999, concurrency), { concurrency, count: warmup });
    const [apiOn, apiOff] = [on, off];

    // Rounds of four half windows, ABBA within each round (see the header), the k-th of each setting on the same reads.
    const measure = async (label: string, windowOpts: typeof opts, rate?: number) => {
      const windows = { on: [] as Window[][], off: [] as Window[][] };
      const half = { ...windowOpts, requests: Math.max(1, Math.round(windowOpts.requests / 2)), maxSeconds: windowOpts.maxSeconds / 2 };
      for (let r = 0; r < rounds; r++) {
        const [first, second]: Array<'on' | 'off'> = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
        windows.on.push([]);
        windows.off.push([]);
        for (const which of [first, second, second, first]) {
          const k = windows[which][r].length + 1;
          const w = await runWindow(which === 'on' ? apiOn : apiOff, ids, (r + 1) * 10 + k, observer, worker!.proc.pid, half, rate);
          windows[which][r].push(w);
          const s = summarize(w.load.latenciesMs);
          progress(
            BENCH,
            `${label} round ${r + 1} sampling ${which.padEnd(3)} (${k} of 2) n=${w.load.ok} p50=${s.p50_ms} p99=${s.p99_ms} ms rps=${w.load.rps.toFixed(0)} enqueued=${w.enqueued} dropped=${w.dropped} max_depth=${w.maxDepth}`,
          );
        }
      }
      return windows;
    };
    const compare = (rounds: { on: Window[][]; off: Window[][] }) => {
      const windows = { on: rounds.on.flat(), off: rounds.off.flat() };
      const [sOn, sOff] = [side(windows.on), side(windows.off)];
      // Issue 18: at most 1.05x in three runs out of three. Each round (its half windows of each setting pooled)
      // is such a run; the ratio pooled over all rounds is reported beside them.
      const p99Of = (ws: Window[]) => summarize(ws.flatMap((w) => w.load.latenciesMs)).p99_ms;
      const byRound = rounds.on.map((on, i) => ratio(p99Of(on), p99Of(rounds.off[i])));
      return {
        sampling_on: sOn,
        sampling_off: sOff,
        ratio: ratio(sOn.p99_ms, sOff.p99_ms),
        ratio_by_round: byRound,
        roundsPassing: byRound.filter((x) => x <= TARGET).length,
        p50_ratio: ratio(sOn.p50_ms, sOff.p50_ms),
        rps_ratio: ratio(sOn.rps, sOff.rps),
        samples: {
          enqueued: windows.on.reduce((n, w) => n + w.enqueued, 0),
          dropped: windows.on.reduce((n, w) => n + w.dropped, 0),
          max_queue_depth: Math.max(...windows.on.map((w) => w.maxDepth)),
        },
      };
    };
    const saturated = compare(await measure('closed loop', opts));
    // Then the same rounds at one fixed arrival rate: half what the reads sustained without sampling above.
    const rate = fixedRate || Math.max(1, Math.round(saturated.sampling_off.rps * RATE_SHARE));
    const atRate = compare(await measure(`open loop at ${rate} rps`, { ...opts, maxSeconds: openSeconds }, rate));
    await sleep(1000);
    const { rows } = await control.pg.query(`SELECT outcome, count(*)::int AS n FROM shadow_samples GROUP BY 1`);
    for (const [figure, c] of [
      ['read_p99_ratio', saturated],
      ['read_p99_ratio_at_rate', atRate],
    ] as const) {
      const judged = figure === 'read_p99_ratio';
      const { roundsPassing, ...figures } = c;
      lines.push({
        bench: BENCH,
        figure: A_A ? `${figure}_a_a` : figure,
        sample_rate: RATE,
        ...(A_A ? { note: 'A/A: both APIs with sampling off (BENCH_SHADOW_SAMPLE_RATE=0), so any ratio other than 1 is the machine' } : {}),
        load: judged
          ? `closed loop of ${concurrency} clients, ${opts.requests} reads or ${opts.maxSeconds} s per round and setting, in two half windows (ABBA within the round)`
          : `open loop: ${rate} reads/s on a fixed schedule (${fixedRate ? 'BENCH_SHADOW_RATE' : `${RATE_SHARE} x the closed-loop throughput without sampling`}), ${concurrency} clients, latency from each read's due time, ${openSeconds} s per round and setting, in two half windows (ABBA within the round)`,
        concurrency,
        ...(judged ? {} : { rate }),
        rounds,
        mix: { get: 0.8, list: 0.2 },
        ...figures,
        rounds_passing: `${roundsPassing}/${rounds}`,
        ...(judged ? { outcomes: Object.fromEntries(rows.map((r: { outcome: string; n: number }) => [r.outcome, r.n])) } : {}),
        ...(judged && !A_A
          ? {
              target: `<=${TARGET} pooled and in every round (${rounds} of ${rounds})`,
              pass: c.ratio <= TARGET && roundsPassing === rounds,
            }
          : {}),
      });
    }

    if (A_A) return lines;
    // The bursts: every read sampled into a small queue; first with the worker comparing, then with the
    // worker stopped (a pace of zero, the extreme of "far beyond the workers' pace").
    const burst = await startApi(dbs, {
      concurrency: concurrency * 2,
      env: { ...common, SHADOW_SAMPLE_RATE: '1', SHADOW_QUEUE_MAX: String(burstMax) },
    });
    try {
      for (const workerState of ['running', 'stopped'] as const) {
        if (workerState === 'stopped') await worker.stop();
        await burst.app.get(ShadowQueue).queue.drain(true);
        const before = await burst.metrics();
        const depth = watchDepth(observer, 5);
        const load = await closedLoop(reads(burst, ids, 77, concurrency * 2), { concurrency: concurrency * 2, count: burstN });
        await burst.app.get(ShadowSampler).settled();
        const maxDepth = await depth.stop();
        const after = await burst.metrics();
        const delta = (name: string, labels: Record<string, string>) => counter(after, name, labels) - counter(before, name, labels);
        const s = summarize(load.latenciesMs);
        const result = {
          bench: BENCH,
          figure: 'queue_depth_under_burst',
          worker: workerState,
          reads: load.ok,
          errors: load.errors,
          concurrency: concurrency * 2,
          sample_rate: 1,
          queue_max: burstMax,
          max_queue_depth: maxDepth,
          enqueued: delta('shadow_samples_total', { result: 'enqueued' }),
          dropped: delta('shadow_samples_total', { result: 'dropped' }),
          dropped_by_reason: Object.fromEntries(
            ['full', 'busy', 'unavailable'].map((reason) => [reason, delta('shadow_dropped_total', { reason })]),
          ),
          read_latency: { p50_ms: s.p50_ms, p99_ms: s.p99_ms, rps: round(load.rps, 0) },
          target: `max_queue_depth <= ${burstMax}`,
          pass: maxDepth <= burstMax && load.errors === 0,
        };
        progress(BENCH, `burst (worker ${workerState}): ${JSON.stringify(result)}`);
        lines.push(result);
      }
    } finally {
      await burst.close();
    }
  } finally {
    await worker?.stop();
    await closeObserver();
    await on?.stop();
    await off?.stop();
    await control.close();
    await dbs.drop();
  }
  return lines;
}
