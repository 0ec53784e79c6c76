/**
 * dual-write (SPEC §6: "dual-write p99 latency vs a single write to the primary, same concurrency",
 * target at most 1.25x).
 *
 * Starts the real API in a process of its own (the transpiled dist/src/main.js, as production runs it) on
 * fresh databases and drives it over HTTP (keep-alive) with a mix of POST /conversations,
 * POST /conversations/:id/messages and PATCH /conversations/:id. Two comparisons, each phase against the
 * single-write phase with the same source of truth:
 *   legacy primary: `shadow` (legacy + new as secondary)  vs  `not_started` (legacy only)
 *   new primary:    `deprecation` (new + legacy secondary) vs  `cleanup` (new only)
 * Each phase runs BENCH_DUAL_WRITE_ROUNDS times, the two phases of a pair in alternating order
 * (ABBA) with the same seeded request sequence, so drift and background noise fall on both sides
 * alike; the samples of all rounds are pooled.
 *
 * The rounds run twice. First as SPEC §6 defines the figure, the same concurrency on both sides: a closed loop
 * of BENCH_CONCURRENCY clients, each sending its next request when the last one answered. That is the judged
 * p99_ratio. On this 2-core machine it saturates the cores that the API, the load, the follow-ups and both
 * database servers share, so it also prices the extra CPU a dual write costs anywhere on the machine. Then,
 * reported beside it (p99_ratio_at_rate), an open loop at one fixed arrival rate for both phases of a pair,
 * half what the primary alone sustained in the closed loop (or BENCH_DUAL_WRITE_RATE), each latency taken
 * from the request's due time (no coordinated omission): the tail a client sees at a load the primary
 * serves, where this machine's stalls (PostgreSQL's commit fsyncs, the processes' GC) show in full.
 *
 * Besides the p99_ratio lines it prints where the time goes: the server's own per-store write
 * latency (store_write_duration_seconds from GET /metrics, diffed around each measured window) and a
 * raw store micro-benchmark (the store adapters called directly, no HTTP) at the same concurrency.
 *
 * Each window: the previous window's follow-ups waited for (none left in repair_outbox), both stores emptied, phase
 * set (and the API's mode cache left to expire), warm-up (BENCH_DUAL_WRITE_POOL conversations created, then
 * BENCH_DUAL_WRITE_WARMUP mixed requests, then the window's own load, closed or open loop, for
 * BENCH_DUAL_WRITE_WARMUP_SECONDS, so that deprecation's follow-ups, applied a second after their write, are in
 * their steady state when the measurement starts), then the
 * measured run: BENCH_DUAL_WRITE_REQUESTS requests or BENCH_DUAL_WRITE_MAX_SECONDS, whichever ends
 * first (the legacy phases on FerretDB manage only tens of requests per second on a small machine).
 *
 * Knobs (defaults): BENCH_CONCURRENCY (16), BENCH_DUAL_WRITE_REQUESTS (1500),
 * BENCH_DUAL_WRITE_MAX_SECONDS (12), BENCH_DUAL_WRITE_WARMUP (64), BENCH_DUAL_WRITE_WARMUP_SECONDS (3), BENCH_DUAL_WRITE_POOL (64),
 * BENCH_DUAL_WRITE_ROUNDS (2), BENCH_RAW_STORE_OPS (150 per operation; 0 skips the raw store part),
 * BENCH_DUAL_WRITE_RATE (requests/s of the open loop; default half the primary-only closed loop's),
 * BENCH_DUAL_WRITE_OPEN_SECONDS (20 per open-loop window, whatever the count),
 * BENCH_DUAL_WRITE_PRIMARY (`legacy` or `new`: that comparison only).
 */
import { performance } from 'node:perf_hooks';
import type { Conversation } from '../../src/model/conversation.model';
import { newConversationId } from '../../src/model/object-id';
import type { Phase } from '../../src/model/phases';
import { modeForPhase } from '../../src/model/phases';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../../src/stores/conversation-store.port';
import { StoreName } from '../../src/model/store-name';
import { LEGACY_DB } from '../../src/stores/stores.module';
import type { Db } from 'mongodb';
import { BenchApi, startApi } from '../lib/api';
import { ApiProc, spawnApi } from '../lib/engine';
import { createFreshDatabases } from '../lib/fresh-db';
import { closedLoop, LoadResult, openLoop } from '../lib/load';
import { envInt, progress, round, sleep } from '../lib/log';
import { cpuDelta, CpuSnapshot, processCpuSeconds, serverCpu } from '../lib/proc-cpu';
import { describeSeconds, diffHistograms, histogram, HistogramSeries, Sample } from '../lib/prom';
import { ratio, summarize } from '../lib/stats';
import type { BenchLine } from '../lib/types';

const BENCH = 'dual-write';
const TARGET = 1.25;
const QUIESCE_MS = 60_000;

interface Comparison {
  primary: StoreName;
  dual: Phase;
  single: Phase;
}

const COMPARISONS: Comparison[] = [
  { primary: 'legacy', dual: 'shadow', single: 'not_started' },
  { primary: 'new', dual: 'deprecation', single: 'cleanup' },
];

/** Share of each request kind in the mix (cumulative thresholds below). */
const MIX = { create: 0.2, append: 0.6, patch: 0.2 };

/** Small deterministic PRNG so every phase sees the same sequence of request kinds and targets. */
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

const text = (n: number, seed: number) => {
  const words = ['migration', 'legacy', 'postgres', 'conversation', 'message', 'latency', 'replica', 'shadow', 'cursor', 'version'];
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${words[(seed + i * 7) % words.length]} `;
  return s.slice(0, n);
};

function createBody(i: number) {
  return {
    userId: `bench-user-${i % 64}`,
    title: `Benchmark conversation ${i}`,
    messages: [
      { role: 'user', content: text(180, i) },
      { role: 'assistant', content: text(420, i + 3) },
    ],
    metadata: { source: 'bench', channel: i % 2 === 0 ? 'web' : 'mobile', tags: ['bench', `t${i % 5}`], seq: i },
  };
}

/**
 * The workload of one phase window. Each worker writes only to the conversations it created itself
 * (one client per conversation, as a chat user is): no two in-flight requests touch the same
 * conversation, so the figures measure the write path itself, not compare-and-set retries and the
 * repairs that racing writers of one conversation cause.
 */
class Workload {
  private readonly pools: string[][];
  private readonly rands: Array<() => number>;

  constructor(
    private readonly api: ApiProc,
    seed: number,
    concurrency: number,
  ) {
    this.pools = Array.from({ length: concurrency }, () => []);
    this.rands = Array.from({ length: concurrency }, (_, w) => mulberry32(seed * 1000 + w));
  }

  first(): string | undefined {
    return this.pools.find((p) => p.length > 0)?.[0];
  }

  readonly create = async (i: number, w: number): Promise<string> => {
    const res = await this.api.client.expect<{ id: string }>(201, 'POST', '/conversations', createBody(i));
    this.pools[w].push(res.body.id);
    return 'create';
  };

  readonly mixed = async (i: number, w: number): Promise<string> => {
    const rand = this.rands[w];
    const pool = this.pools[w];
    const r = rand();
    const target = pool[Math.floor(rand() * pool.length)];
    if (r < MIX.create || !target) return this.create(i, w);
    if (r < MIX.create + MIX.append) {
      await this.api.client.expect(201, 'POST', `/conversations/${target}/messages`, {
        role: i % 2 === 0 ? 'user' : 'assistant',
        content: text(300, i),
      });
      return 'append';
    }
    await this.api.client.expect(200, 'PATCH', `/conversations/${target}`, {
      title: `Renamed ${i}`,
      metadata: { source: 'bench', seq: i, pinned: i % 3 === 0 },
    });
    return 'patch';
  };
}

interface Window {
  load: LoadResult;
  writes: Map<string, HistogramSeries>;
  http: Map<string, HistogramSeries>;
  counters: Record<string, number>;
  /** CPU of the API's process and of this one (the load generator), ms. */
  apiCpuMs: number;
  loadCpuMs: number;
  /** CPU seconds of the database servers during the measured run. */
  serversCpu: CpuSnapshot;
  /** Documents in the legacy collection at the end of the window. */
  legacyDocs: number;
}

function counterTotals(samples: Sample[], names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (!names.includes(s.name)) continue;
    const key = `${s.name}${Object.keys(s.labels).length ? JSON.stringify(s.labels) : ''}`;
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

const COUNTERS = ['secondary_write_failures_total', 'version_conflicts_total', 'repairs_total'];

/**
 * Guards against measuring the wrong phase (e.g. a mode cache that did not expire): a conversation
 * created in the window must be in exactly the stores the phase writes. A secondary write may land
 * a moment after its request answered (it timed out but went on), hence the few retries.
 */
async function expectPlacement(api: BenchApi, phase: Phase, id: string): Promise<void> {
  const mode = modeForPhase(phase);
  const want = { legacy: mode.sourceOfTruth === 'legacy' || mode.dualWrite, new: mode.sourceOfTruth === 'new' || mode.dualWrite };
  let seen = { legacy: false, new: false };
  for (let attempt = 0; attempt < 30; attempt++) {
    seen = {
      legacy: (await api.app.get<ConversationStore>(LEGACY_STORE).get(id)) !== null,
      new: (await api.app.get<ConversationStore>(NEW_STORE).get(id)) !== null,
    };
    if (seen.legacy === want.legacy && seen.new === want.new) return;
    await sleep(100);
  }
  throw new Error(
    `phase ${phase}: conversation ${id} is in legacy=${seen.legacy} new=${seen.new}, expected legacy=${want.legacy} new=${want.new}`,
  );
}

interface WindowOptions {
  concurrency: number;
  requests: number;
  maxSeconds: number;
  openSeconds: number;
  warmup: number;
  warmupSeconds: number;
  pool: number;
}

/**
 * Both stores emptied before every window: every window starts from the same state, whatever ran
 * before it. (FerretDB's SQLite backend scans the whole collection for most writes, so a legacy
 * collection that kept growing from window to window would make later windows slower.)
 */
async function resetStores(api: BenchApi): Promise<void> {
  await api.pg.query('TRUNCATE conversations, messages, repair_outbox');
  await api.app.get<Db>(LEGACY_DB).collection(api.config.legacy.collection).deleteMany({});
}

/**
 * Waits until no follow-up is left (at most QUIESCE_MS): the previous window's follow-ups, applied up to
 * FOLLOW_UP_DELAY_MS after its last write, must not run into this window (nor be lost to its reset).
 */
async function quiesce(api: BenchApi): Promise<void> {
  const deadline = Date.now() + QUIESCE_MS;
  for (;;) {
    const { rows } = await api.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM repair_outbox');
    const n = rows[0].n;
    if (n === 0) return;
    if (Date.now() > deadline) {
      progress(BENCH, `${n} follow-up(s) still pending after ${QUIESCE_MS} ms; the next window starts anyway`);
      return;
    }
    await sleep(200);
  }
}

/** How a window's measured run is driven: a closed loop at `concurrency` or, with `rate`, an open loop at that rate. */
type Drive = { kind: 'closed' } | { kind: 'open'; rate: number };

async function runWindow(
  api: BenchApi,
  target: ApiProc,
  phase: Phase,
  seed: number,
  opts: WindowOptions,
  drive: Drive = { kind: 'closed' },
): Promise<Window> {
  await quiesce(api);
  await resetStores(api);
  await api.setPhase(phase);
  const work = new Workload(target, seed, opts.concurrency);
  // Warm-up: the conversations this window writes to, then a short mixed run.
  const created = await closedLoop((i, w) => work.create(1_000_000 + i, w), { concurrency: opts.concurrency, count: opts.pool });
  if (created.errors > 0) throw new Error(`${phase}: warm-up creates failed: ${created.errorSamples.join('; ')}`);
  await expectPlacement(api, phase, work.first()!);
  const warm = await closedLoop(work.mixed, { concurrency: opts.concurrency, count: opts.warmup });
  if (warm.errors > 0) throw new Error(`${phase}: warm-up failed: ${warm.errorSamples.join('; ')}`);
  // Then the window's own load for a while, the same in every phase: what a write sets going later (in deprecation
  // its follow-up, applied FOLLOW_UP_DELAY_MS after it) is in its steady state when the measured run starts, rather
  // than starting, with its first connections to legacy, inside it.
  if (opts.warmupSeconds > 0) {
    const durationMs = opts.warmupSeconds * 1000;
    const settle =
      drive.kind === 'closed'
        ? await closedLoop(work.mixed, { concurrency: opts.concurrency, durationMs })
        : await openLoop(work.mixed, { rate: drive.rate, clients: opts.concurrency, durationMs });
    if (settle.errors > 0) throw new Error(`${phase}: warm-up failed: ${settle.errorSamples.join('; ')}`);
  }

  const before = await target.metrics();
  const cpu0 = process.cpuUsage();
  const api0 = processCpuSeconds(target.pid) ?? 0;
  const servers0 = serverCpu();
  // An open loop runs for its time (its count follows from the rate); a closed loop stops at whichever comes first.
  const limit =
    drive.kind === 'closed' ? { count: opts.requests, durationMs: opts.maxSeconds * 1000 } : { durationMs: opts.openSeconds * 1000 };
  const load =
    drive.kind === 'closed'
      ? await closedLoop(work.mixed, { concurrency: opts.concurrency, ...limit })
      : await openLoop(work.mixed, { rate: drive.rate, clients: opts.concurrency, ...limit });
  const cpu = process.cpuUsage(cpu0);
  const serversCpu = cpuDelta(servers0, serverCpu());
  const apiCpuMs = ((processCpuSeconds(target.pid) ?? 0) - api0) * 1000;
  const after = await target.metrics();
  const writes = diffHistograms(
    histogram(before, 'store_write_duration_seconds', ['store', 'role']),
    histogram(after, 'store_write_duration_seconds', ['store', 'role']),
  );
  const http = diffHistograms(
    histogram(
      before.filter((s) => s.labels.route !== '/metrics'),
      'http_request_duration_seconds',
      ['method', 'route'],
    ),
    histogram(
      after.filter((s) => s.labels.route !== '/metrics'),
      'http_request_duration_seconds',
      ['method', 'route'],
    ),
  );
  const c0 = counterTotals(before, COUNTERS);
  const c1 = counterTotals(after, COUNTERS);
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries(c1)) if (v - (c0[k] ?? 0) > 0) counters[k] = v - (c0[k] ?? 0);
  const s = summarize(load.latenciesMs);
  const how = drive.kind === 'closed' ? `closed loop of ${opts.concurrency}` : `open loop at ${drive.rate} rps`;
  progress(
    BENCH,
    `${phase.padEnd(11)} ${how}: n=${load.ok} err=${load.errors} p50=${s.p50_ms} p99=${s.p99_ms} ms rps=${load.rps.toFixed(0)}`,
  );
  if (load.errors > 0) progress(BENCH, `${phase}: ${load.errors} failed request(s), e.g. ${load.errorSamples[0]}`);
  const legacyDocs = await api.app.get<Db>(LEGACY_DB).collection(api.config.legacy.collection).estimatedDocumentCount();
  return { load, writes, http, counters, apiCpuMs, loadCpuMs: (cpu.user + cpu.system) / 1000, serversCpu, legacyDocs };
}

function addSeries(into: Map<string, HistogramSeries>, from: Map<string, HistogramSeries>): void {
  for (const [k, h] of from) {
    const t = into.get(k);
    if (!t) {
      into.set(k, { labels: h.labels, buckets: h.buckets.map((b) => ({ ...b })), sum: h.sum, count: h.count });
      continue;
    }
    t.sum += h.sum;
    t.count += h.count;
    for (const b of h.buckets) {
      const tb = t.buckets.find((x) => x.le === b.le);
      if (tb) tb.count += b.count;
      else t.buckets.push({ ...b });
    }
  }
}

/** All rounds of one phase, pooled. */
function pooled(windows: Window[]) {
  const latencies = windows.flatMap((w) => w.load.latenciesMs);
  const elapsedMs = windows.reduce((a, w) => a + w.load.elapsedMs, 0);
  const byKind: Record<string, number[]> = {};
  for (const w of windows) for (const [k, v] of Object.entries(w.load.byKind)) (byKind[k] ??= []).push(...v);
  const writes = new Map<string, HistogramSeries>();
  const http = new Map<string, HistogramSeries>();
  const counters: Record<string, number> = {};
  for (const w of windows) {
    addSeries(writes, w.writes);
    addSeries(http, w.http);
    for (const [k, v] of Object.entries(w.counters)) counters[k] = (counters[k] ?? 0) + v;
  }
  const s = summarize(latencies);
  const errors = windows.reduce((a, w) => a + w.load.errors, 0);
  const apiCpuMs = windows.reduce((a, w) => a + w.apiCpuMs, 0);
  const loadCpuMs = windows.reduce((a, w) => a + w.loadCpuMs, 0);
  const serversCpu: CpuSnapshot = {};
  for (const w of windows) for (const [k, v] of Object.entries(w.serversCpu)) serversCpu[k] = (serversCpu[k] ?? 0) + v;
  return {
    side: {
      p50_ms: s.p50_ms,
      p99_ms: s.p99_ms,
      rps: round(latencies.length / (elapsedMs / 1000), 1),
      p90_ms: s.p90_ms,
      mean_ms: s.mean_ms,
      max_ms: s.max_ms,
      requests: s.count,
      errors,
      by_op: Object.fromEntries(
        Object.entries(byKind)
          .sort()
          .map(([k, v]) => {
            const ks = summarize(v);
            return [k, { n: ks.count, p50_ms: ks.p50_ms, p99_ms: ks.p99_ms }];
          }),
      ),
      // CPU of the API's process, and of this one (the load generator), per wall-clock second, in % of one core.
      api_cpu_pct: round((apiCpuMs / elapsedMs) * 100, 0),
      load_cpu_pct: round((loadCpuMs / elapsedMs) * 100, 0),
      // The same for the database servers (server-wide: other clients of the shared servers count too).
      ...Object.fromEntries(Object.entries(serversCpu).map(([k, v]) => [`${k}_cpu_pct`, round(((v * 1000) / elapsedMs) * 100, 0)])),
    },
    writes,
    http,
    counters,
    legacyDocs: windows.map((w) => w.legacyDocs),
  };
}

function storeBreakdown(writes: Map<string, HistogramSeries>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of [...writes.values()].sort((a, b) =>
    `${a.labels.role}${a.labels.store}`.localeCompare(`${b.labels.role}${b.labels.store}`),
  )) {
    out[`${h.labels.store}/${h.labels.role}`] = describeSeconds(h);
  }
  return out;
}

function httpBreakdown(http: Map<string, HistogramSeries>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of http.values()) out[`${h.labels.method} ${h.labels.route}`] = describeSeconds(h);
  return out;
}

// ------------------------------------------------------------------------------------ raw stores

function conversation(i: number): Conversation {
  const now = new Date();
  const body = createBody(i);
  return {
    id: newConversationId(now),
    userId: body.userId,
    title: body.title,
    messages: body.messages.map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content, createdAt: now })),
    metadata: body.metadata,
    createdAt: now,
    updatedAt: now,
    version: 1,
    deleted: false,
  };
}

/** The store adapters called directly (no HTTP, no Nest): what one store write or read costs. */
async function rawStores(api: BenchApi, concurrency: number, n: number): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  for (const [name, token] of [
    ['legacy', LEGACY_STORE],
    ['new', NEW_STORE],
  ] as const) {
    const store = api.app.get<ConversationStore>(token);
    const docs = Array.from({ length: n }, (_, i) => conversation(2_000_000 + i));
    const steps: Array<[string, (i: number) => Promise<unknown>]> = [
      ['insertNew', (i) => store.insertNew(docs[i])],
      ['get', (i) => store.get(docs[i].id)],
      ['compareAndSet', (i) => store.compareAndSet({ ...docs[i], version: 2, updatedAt: new Date(), title: `cas ${i}` }, 1)],
      ['putIfNewer', (i) => store.putIfNewer({ ...docs[i], version: 3, updatedAt: new Date(), title: `put ${i}` })],
    ];
    const ops: Record<string, unknown> = {};
    for (const [op, fn] of steps) {
      const t0 = performance.now();
      const r = await closedLoop(
        async (i) => {
          await fn(i);
        },
        { concurrency, count: n },
      );
      if (r.errors > 0) throw new Error(`raw ${name}.${op}: ${r.errorSamples[0]}`);
      const s = summarize(r.latenciesMs);
      ops[op] = { p50_ms: s.p50_ms, p99_ms: s.p99_ms, mean_ms: s.mean_ms, ops_per_s: round(n / ((performance.now() - t0) / 1000), 0) };
    }
    progress(BENCH, `raw ${name} store: ${JSON.stringify(ops)}`);
    lines.push({ bench: BENCH, figure: 'raw_store_latency', store: name, concurrency, ops_per_kind: n, ops });
  }
  return lines;
}

// ------------------------------------------------------------------------------------ scenario

/** The open-loop rate, as a share of the primary-only phase's closed-loop throughput in the same run. */
const RATE_SHARE = 0.5;

export async function run(): Promise<BenchLine[]> {
  const opts = {
    concurrency: envInt('BENCH_CONCURRENCY', 16),
    requests: envInt('BENCH_DUAL_WRITE_REQUESTS', 1500),
    maxSeconds: envInt('BENCH_DUAL_WRITE_MAX_SECONDS', 12),
    openSeconds: envInt('BENCH_DUAL_WRITE_OPEN_SECONDS', 20),
    warmup: envInt('BENCH_DUAL_WRITE_WARMUP', 64, 0),
    warmupSeconds: envInt('BENCH_DUAL_WRITE_WARMUP_SECONDS', 3, 0),
    pool: envInt('BENCH_DUAL_WRITE_POOL', 64),
  };
  const rounds = envInt('BENCH_DUAL_WRITE_ROUNDS', 2);
  const rawOps = envInt('BENCH_RAW_STORE_OPS', 150, 0);
  const fixedRate = envInt('BENCH_DUAL_WRITE_RATE', 0, 0);
  const only = process.env.BENCH_DUAL_WRITE_PRIMARY;
  const comparisons = COMPARISONS.filter((c) => !only || c.primary === only);
  if (comparisons.length === 0) throw new Error(`BENCH_DUAL_WRITE_PRIMARY=${only}: expected legacy or new`);

  const dbs = await createFreshDatabases('dualwrite');
  // In this process: the stores reset, the phase set, placements checked; the requests measured go to the API in
  // a process of its own, as production runs it (this process's load generator and its garbage stay out of it).
  const api = await startApi(dbs, { concurrency: opts.concurrency });
  let target: ApiProc | undefined;
  const lines: BenchLine[] = [];
  try {
    target = await spawnApi('dual-write', dbs, { concurrency: opts.concurrency });
    const measured = target;
    progress(
      BENCH,
      `API on ${target.url} (pid ${target.pid}); concurrency ${opts.concurrency}, per phase and round ${opts.requests} requests or ${opts.maxSeconds} s, ${rounds} round(s), mix ${JSON.stringify(MIX)}`,
    );
    // Both phases of a pair get the same seed (the same sequence of request kinds and targets), in ABBA order.
    const measure = async (drives: Map<Comparison, Drive>) => {
      const windows = new Map<Phase, Window[]>();
      let seed = 1;
      for (let r = 0; r < rounds; r++) {
        for (const c of comparisons) {
          const order = r % 2 === 0 ? [c.single, c.dual] : [c.dual, c.single];
          const roundSeed = seed++;
          for (const phase of order) {
            const w = await runWindow(api, measured, phase, roundSeed, opts, drives.get(c));
            windows.set(phase, [...(windows.get(phase) ?? []), w]);
          }
        }
      }
      return windows;
    };
    const closed = await measure(new Map(comparisons.map((c) => [c, { kind: 'closed' }])));
    // Then each pair at one fixed arrival rate, half what the primary alone sustained in the closed loop.
    const rates = new Map(
      comparisons.map((c) => [c, fixedRate || Math.max(1, Math.round(pooled(closed.get(c.single)!).side.rps * RATE_SHARE))]),
    );
    const open = await measure(new Map(comparisons.map((c) => [c, { kind: 'open', rate: rates.get(c)! }])));

    for (const c of comparisons) {
      for (const [windows, loop] of [
        [closed, 'closed'],
        [open, 'open'],
      ] as const) {
        const dual = pooled(windows.get(c.dual)!);
        const single = pooled(windows.get(c.single)!);
        const p99Ratio = ratio(dual.side.p99_ms, single.side.p99_ms);
        const rate = rates.get(c)!;
        lines.push({
          bench: BENCH,
          figure: loop === 'closed' ? 'p99_ratio' : 'p99_ratio_at_rate',
          primary: c.primary,
          dual_phase: c.dual,
          single_phase: c.single,
          load:
            loop === 'open'
              ? `open loop: ${rate} requests/s on a fixed schedule (${fixedRate ? 'BENCH_DUAL_WRITE_RATE' : `${RATE_SHARE} x the primary-only closed-loop throughput`}), ${opts.concurrency} clients, latency from each request's due time, ${opts.openSeconds} s per window`
              : `closed loop of ${opts.concurrency} clients (SPEC: same concurrency), each sending its next request when the last one answered; ${
                  process.env.BENCH_LEGACY_CPUS
                    ? 'this saturates the CPUs the API, the load, the follow-ups and PostgreSQL share, while legacy works on its own (BENCH_LEGACY_CPUS)'
                    : 'on shared cores this saturates the machine, so the ratio includes the CPU each request costs anywhere on it (API, follow-ups, both servers)'
                }`,
          concurrency: opts.concurrency,
          ...(loop === 'open' ? { rate } : {}),
          rounds,
          dual: dual.side,
          single: single.side,
          ratio: p99Ratio,
          p50_ratio: ratio(dual.side.p50_ms, single.side.p50_ms),
          rps_ratio: ratio(dual.side.rps, single.side.rps),
          ...(loop === 'closed' ? { target: `<=${TARGET}`, pass: p99Ratio <= TARGET } : {}),
        });
        for (const [phase, p] of [
          [c.dual, dual],
          [c.single, single],
        ] as const) {
          lines.push({
            bench: BENCH,
            figure: 'store_write_latency',
            phase,
            primary: c.primary,
            load: loop === 'open' ? `open loop at ${rate} requests/s` : `closed loop of ${opts.concurrency}`,
            source:
              'store_write_duration_seconds and http_request_duration_seconds from GET /metrics, measured windows only; p50/p99 interpolated in histogram buckets',
            store_writes: storeBreakdown(p.writes),
            http_server: httpBreakdown(p.http),
            counters: p.counters,
            legacy_docs_at_window_end: p.legacyDocs,
          });
        }
      }
    }
    // One chart: p99 per phase, each dual-write phase beside the single-write phase of the same primary, for
    // both loads (the judged closed loop, and the open loop at a fixed rate).
    const p99 = (windows: Map<Phase, Window[]>, phase: Phase) => pooled(windows.get(phase)!).side.p99_ms;
    const label = (c: Comparison, load: string) => `${c.primary} primary (${c.dual}), ${load}`;
    const points = (pick: (c: Comparison) => Phase) =>
      comparisons.flatMap((c) => [
        [label(c, `closed loop of ${opts.concurrency}`), p99(closed, pick(c))] as [string, number],
        [label(c, `${rates.get(c)} rps`), p99(open, pick(c))] as [string, number],
      ]);
    lines.push({
      bench: BENCH,
      figure: 'p99_by_phase',
      by_phase: Object.fromEntries(comparisons.flatMap((c) => [c.dual, c.single].map((phase) => [phase, p99(closed, phase)]))),
      at_rate_by_phase: Object.fromEntries(comparisons.flatMap((c) => [c.dual, c.single].map((phase) => [phase, p99(open, phase)]))),
      chart: {
        id: 'dual-write-p99',
        title: 'Write p99 by phase (ms): closed loop, and open loop at half the primary-only throughput',
        kind: 'bar',
        x: 'primary store and load',
        y: 'p99 latency (ms)',
        series: [
          { name: 'with the secondary (dual write)', points: points((c) => c.dual) },
          { name: 'primary only', points: points((c) => c.single) },
        ],
      },
    });
    if (rawOps > 0) {
      await resetStores(api);
      lines.push(...(await rawStores(api, opts.concurrency, rawOps)));
    }
  } finally {
    await target?.stop();
    await api.close();
    await dbs.drop();
  }
  return lines;
}
