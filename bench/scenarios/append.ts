/**
 * append (issue 18, item 0b: "an append costs the same at message 1,000 as at message 1"): the latency of
 * POST /conversations/:id/messages on conversations that already hold 10, 100 and 1,000 messages, in each
 * write mode of the phase table: `not_started` (legacy only), `shadow` (legacy primary, new secondary; canary
 * and rollout write the same way), `deprecation` (new primary, legacy follow-up off the request path) and
 * `cleanup` (new only). Target: in every phase the p99 at 1,000 messages is at most 1.5x the p99 at 10.
 *
 * The appends go over HTTP (keep-alive) to the real API in a process of its own (spawnApi: the transpiled
 * dist/src/main.js, as `npm start` runs it), so that this process's load generator, which reads every
 * answer, does not share the event loop that times the writes; this process seeds the stores and sets the
 * phase. Per phase: both stores emptied, BENCH_APPEND_CONVERSATIONS conversations of each size written
 * straight into both stores (as the dual writes would have left them), then the sizes are measured in turn
 * (10, 100, 1,000, then backwards, BENCH_APPEND_ROUNDS times; samples pooled per size), each window
 * BENCH_APPEND_REQUESTS appends of BENCH_APPEND_BYTES-byte messages or BENCH_APPEND_MAX_SECONDS. A worker
 * appends only to conversations of its own (one writer per conversation, as a chat user is), so the figure is
 * the write path's cost, not compare-and-set retries. The conversations grow during the windows (the line
 * gives the mean size measured).
 *
 * Two figures per size: the request's p99 as the client sees it, and the write's own p99, the source of
 * truth's store write (store_write_duration_seconds{role="primary"} from the API's /metrics, diffed around
 * each window, interpolated in its buckets). The target is on the write, with BENCH_APPEND_CONCURRENCY
 * writers (1, as the issue measured a chat): what item 0b changes. The same windows then run with
 * BENCH_APPEND_LOADED_CONCURRENCY writers (8) in a closed loop, reported and not judged: at 1,000 messages
 * that saturates the API's CPU, and every request reads, serialises and returns its whole conversation
 * (SPEC section 2: 201 with the conversation; `response_kb` per answer, 566 KB at 1,000 messages) on the
 * event loop that times the other requests' writes. No write path makes that part flat (`request_ratio`), unless the
 * client asks for the minimal answer (BENCH_APPEND_MINIMAL below).
 * Per size the line also gives the API process's garbage collection in those windows (`gc_major_per_s`,
 * `gc_ms_per_s`): the whole conversation read and answered per append is what the process collects, and a
 * collection step that runs while a write awaits its store is in that write's time.
 * On the dev server a legacy write rewrites the whole document whatever the operator (FerretDB stores a
 * document as one JSON value), so the legacy phases' write is not flat there. Last, `append_store_write_p99_flat`
 * times each store's append write alone, called from this process with nothing else on its event loop
 * (storeAppends): the write item 0b changed, without the whole-conversation read and answer around it.
 *
 * Knobs (defaults): BENCH_APPEND_CONCURRENCY (1), BENCH_APPEND_LOADED_CONCURRENCY (8, 0 for none), BENCH_APPEND_CONVERSATIONS (16 per size),
 * BENCH_APPEND_REQUESTS (240 per window), BENCH_APPEND_MAX_SECONDS (15), BENCH_APPEND_ROUNDS (2),
 * BENCH_APPEND_BYTES (500), BENCH_APPEND_STORE_WRITES (200 per size and store), BENCH_APPEND_PHASES (not_started,shadow,deprecation,cleanup),
 * BENCH_APPEND_KEYED (0; 1: every append carries an Idempotency-Key of its own, as a client that retries safely sends,
 * and the key's response is stored in the write's transaction: the write it made, not the conversation),
 * BENCH_APPEND_MINIMAL (0; 1: every append asks `Prefer: return=minimal`: the answer is the message added, and where
 * the new store is the source of truth the append reads only the conversation's head).
 */
import type { Db } from 'mongodb';
import { performance } from 'node:perf_hooks';
import type { Conversation } from '../../src/model/conversation.model';
import { newConversationId } from '../../src/model/object-id';
import { isPhase, modeForPhase, Phase } from '../../src/model/phases';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../../src/stores/conversation-store.port';
import { LEGACY_DB } from '../../src/stores/stores.module';
import { BenchApi, startApi } from '../lib/api';
import { ApiProc, spawnApi } from '../lib/engine';
import { createFreshDatabases } from '../lib/fresh-db';
import { closedLoop } from '../lib/load';
import { envInt, progress, round } from '../lib/log';
import { diffHistograms, histogram, histogramQuantile, HistogramSeries } from '../lib/prom';
import { ratio, summarize } from '../lib/stats';
import type { BenchLine } from '../lib/types';

const BENCH = 'append';
/** Tells this run's Idempotency-Keys from another's (BENCH_APPEND_KEYED). */
const runTag = Date.now().toString(36);
const TARGET = 1.5;
const SIZES = [10, 100, 1000] as const;

function phases(): Phase[] {
  const raw = process.env.BENCH_APPEND_PHASES ?? 'not_started,shadow,deprecation,cleanup';
  const out = raw.split(',').map((s) => s.trim());
  const bad = out.filter((p) => !isPhase(p));
  if (bad.length > 0) throw new Error(`BENCH_APPEND_PHASES: unknown phase(s) ${bad.join(', ')}`);
  return out as Phase[];
}

const WORDS = ['migration', 'legacy', 'postgres', 'conversation', 'message', 'latency', 'replica', 'shadow', 'cursor', 'version'];
const text = (n: number, seed: number) => {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${WORDS[(seed + i * 7) % WORDS.length]} `;
  return s.slice(0, n);
};

function conversation(size: number, i: number, bytes: number): Conversation {
  const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000);
  return {
    id: newConversationId(at),
    userId: `append-bench-user-${i % 8}`,
    title: `Append bench ${size}/${i}`,
    messages: Array.from({ length: size }, (_, m) => ({
      role: m % 2 === 0 ? 'user' : 'assistant',
      content: text(bytes, m + i),
      createdAt: new Date(at.getTime() + m),
    })),
    metadata: { source: 'bench', size },
    createdAt: at,
    updatedAt: new Date(at.getTime() + size),
    version: 1,
    deleted: false,
  };
}

async function resetStores(api: BenchApi): Promise<void> {
  await api.pg.query('TRUNCATE conversations, messages, repair_outbox');
  await api.app.get<Db>(LEGACY_DB).collection(api.config.legacy.collection).deleteMany({});
}

/** The conversations of each size, in both stores at version 1. */
async function seed(api: BenchApi, perSize: number, bytes: number): Promise<Map<number, string[]>> {
  const legacy = api.app.get<ConversationStore>(LEGACY_STORE);
  const pg = api.app.get<ConversationStore>(NEW_STORE);
  const out = new Map<number, string[]>();
  let n = 0;
  for (const size of SIZES) {
    const docs = Array.from({ length: perSize }, () => conversation(size, n++, bytes));
    await closedLoop(
      async (i) => {
        await Promise.all([legacy.insertNew(docs[i]), pg.insertNew(docs[i])]);
      },
      { concurrency: 4, count: docs.length },
    );
    out.set(
      size,
      docs.map((d) => d.id),
    );
  }
  return out;
}

interface SizeSamples {
  latencies: number[];
  /** The source of truth's store writes of this size's windows. */
  writes: HistogramSeries | null;
  requests: number;
  errors: number;
  elapsedMs: number;
  responseBytes: number[];
  messagesAtWindow: number[];
  /** The API process's garbage collections in these windows (nodejs_gc_duration_seconds), by kind. */
  gc: Map<string, { count: number; seconds: number }>;
}

interface Options {
  concurrency: number;
  loadedConcurrency: number;
  perSize: number;
  requests: number;
  maxSeconds: number;
  rounds: number;
  bytes: number;
  keyed: boolean;
  minimal: boolean;
}

type BySize = Record<number, Record<string, number | undefined>>;

export async function run(): Promise<BenchLine[]> {
  const o: Options = {
    concurrency: envInt('BENCH_APPEND_CONCURRENCY', 1),
    loadedConcurrency: envInt('BENCH_APPEND_LOADED_CONCURRENCY', 8, 0),
    perSize: envInt('BENCH_APPEND_CONVERSATIONS', 16),
    requests: envInt('BENCH_APPEND_REQUESTS', 240),
    maxSeconds: envInt('BENCH_APPEND_MAX_SECONDS', 15),
    rounds: envInt('BENCH_APPEND_ROUNDS', 2),
    bytes: envInt('BENCH_APPEND_BYTES', 500),
    keyed: envInt('BENCH_APPEND_KEYED', 0, 0) === 1,
    minimal: envInt('BENCH_APPEND_MINIMAL', 0, 0) === 1,
  };
  if (o.perSize < Math.max(o.concurrency, o.loadedConcurrency))
    throw new Error('BENCH_APPEND_CONVERSATIONS must be at least the number of writers (one writer per conversation)');
  const dbs = await createFreshDatabases('append');
  // This process seeds the stores and sets the phase; the appends go to an API process of its own.
  const control = await startApi(dbs, { concurrency: 2 });
  const lines: BenchLine[] = [];
  const writeChart: Array<{ name: string; points: Array<[number, number]> }> = [];
  const requestChart: Array<{ name: string; points: Array<[number, number]> }> = [];
  let api: ApiProc | null = null;
  try {
    api = await spawnApi('append', dbs, { concurrency: Math.max(o.concurrency, o.loadedConcurrency) });
    progress(
      BENCH,
      `API process on ${api.url}; ${o.concurrency} writer(s) judged, then ${o.loadedConcurrency} (reported), ${o.perSize} conversations per size, ` +
        `${o.requests} appends of ${o.bytes} B per window, ${o.rounds} round(s)`,
    );
    for (const phase of phases()) {
      await resetStores(control);
      await control.setPhase(phase);
      const ids = await seed(control, o.perSize, o.bytes);
      const primary = modeForPhase(phase).sourceOfTruth;
      const judged = await measure(api, phase, ids, o.concurrency, o);
      const loaded = o.loadedConcurrency > 0 ? await measure(api, phase, ids, o.loadedConcurrency, o) : null;
      const p99 = (by: BySize, size: number) => by[size]?.p99_ms ?? NaN;
      const writeP99 = (by: BySize, size: number) => by[size]?.write_p99_ms ?? NaN;
      const r1000 = ratio(writeP99(judged, 1000), writeP99(judged, 10));
      lines.push({
        bench: BENCH,
        figure: 'append_write_p99_flat',
        phase,
        primary,
        measure:
          `p99 of the source of truth's store write per append (store_write_duration_seconds, primary), 1,000 messages vs 10, ` +
          `${o.concurrency} writer(s), the API in its own process`,
        by_messages: judged,
        ratio: r1000,
        ratio_100: ratio(writeP99(judged, 100), writeP99(judged, 10)),
        baseline: writeP99(judged, 10),
        request_ratio: ratio(p99(judged, 1000), p99(judged, 10)),
        request_note: o.minimal
          ? 'Prefer: return=minimal: the request reads the head (new store primary) and returns the message, response_kb per answer'
          : 'the request reads and returns the whole conversation (SPEC section 2), response_kb per answer',
        concurrency: o.concurrency,
        message_bytes: o.bytes,
        keyed: o.keyed,
        minimal: o.minimal,
        target: `<=${TARGET}`,
        pass: r1000 <= TARGET && SIZES.every((size) => judged[size]?.errors === 0),
      });
      if (loaded)
        lines.push({
          bench: BENCH,
          figure: 'append_write_p99_loaded',
          phase,
          primary,
          measure: `the same with ${o.loadedConcurrency} writers in a closed loop (the API's CPU saturated at 1,000 messages): reported, not judged`,
          by_messages: loaded,
          ratio: ratio(writeP99(loaded, 1000), writeP99(loaded, 10)),
          request_ratio: ratio(p99(loaded, 1000), p99(loaded, 10)),
          concurrency: o.loadedConcurrency,
          note:
            'every request reads, serialises and returns its whole conversation (566 KB at 1,000 messages) on the same event loop ' +
            "that times the store writes of the others; the write's own cost is the one-writer figure",
        });
      writeChart.push({ name: `${phase}`, points: SIZES.map((size) => [size, writeP99(judged, size)] as [number, number]) });
      requestChart.push({ name: `${phase}`, points: SIZES.map((size) => [size, p99(judged, size)] as [number, number]) });
      if (loaded)
        requestChart.push({
          name: `${phase}, ${o.loadedConcurrency} writers`,
          points: SIZES.map((size) => [size, p99(loaded, size)] as [number, number]),
        });
    }
    lines.push(...(await storeAppends(control, o)));
    lines.push({
      bench: BENCH,
      figure: 'append_p99_by_size',
      by_phase: Object.fromEntries(writeChart.map((c) => [c.name, Object.fromEntries(c.points)])),
      chart: {
        id: 'append-write-p99',
        title: `Append: the store write's p99 (ms) by conversation length, ${o.concurrency} writer(s)`,
        kind: 'line',
        logX: true,
        x: 'messages already in the conversation',
        y: 'p99 of the primary store write (ms)',
        series: writeChart,
      },
    });
    lines.push({
      bench: BENCH,
      figure: 'append_request_p99_by_size',
      by_phase: Object.fromEntries(requestChart.map((c) => [c.name, Object.fromEntries(c.points)])),
      chart: {
        id: 'append-request-p99',
        title: 'Append: request p99 (ms), whole conversation returned',
        kind: 'line',
        logX: true,
        x: 'messages already in the conversation',
        y: 'p99 latency of the request (ms)',
        series: requestChart,
      },
    });
  } finally {
    await api?.stop();
    await control.close();
    await dbs.drop();
  }
  return lines;
}

/**
 * One writer level of one phase: the sizes in turn (10, 100, 1,000, then backwards, `rounds` times), each
 * window `requests` appends or `maxSeconds`; worker w appends only to conversations of its own.
 */
async function measure(api: ApiProc, phase: Phase, ids: Map<number, string[]>, concurrency: number, o: Options): Promise<BySize> {
  const samples = new Map<number, SizeSamples>(
    SIZES.map((s) => [
      s,
      { latencies: [], writes: null, requests: 0, errors: 0, elapsedMs: 0, responseBytes: [], messagesAtWindow: [], gc: new Map() },
    ]),
  );
  const primary = modeForPhase(phase).sourceOfTruth;
  for (let r = 0; r < o.rounds; r++) {
    for (const size of r % 2 === 0 ? SIZES : [...SIZES].reverse()) {
      const pool = ids.get(size)!;
      const s = samples.get(size)!;
      const turn = new Array<number>(concurrency).fill(0);
      const mine = (w: number) => pool.filter((_, k) => k % concurrency === w);
      const before = await messageCounts(api, pool.slice(0, 1));
      const metrics0 = await api.metrics();
      const load = await closedLoop(
        async (i, w) => {
          const own = mine(w);
          const id = own[turn[w]++ % own.length];
          const res = await api.client.expect(
            201,
            'POST',
            `/conversations/${id}/messages`,
            { role: i % 2 === 0 ? 'user' : 'assistant', content: text(o.bytes, i) },
            {
              ...(o.keyed ? { 'idempotency-key': `append-bench-${runTag}-${phase}-${concurrency}-${r}-${size}-${i}` } : {}),
              ...(o.minimal ? { prefer: 'return=minimal' } : {}),
            },
          );
          if (s.responseBytes.length < 2000) s.responseBytes.push(res.text.length);
        },
        { concurrency, count: o.requests, durationMs: o.maxSeconds * 1000 },
      );
      const metrics1 = await api.metrics();
      const windowWrites = [
        ...diffHistograms(
          histogram(metrics0, 'store_write_duration_seconds', ['store', 'role']),
          histogram(metrics1, 'store_write_duration_seconds', ['store', 'role']),
        ).values(),
      ].find((h) => h.labels.store === primary && h.labels.role === 'primary');
      for (const h of diffHistograms(
        histogram(metrics0, 'nodejs_gc_duration_seconds', ['kind']),
        histogram(metrics1, 'nodejs_gc_duration_seconds', ['kind']),
      ).values()) {
        const g = s.gc.get(h.labels.kind) ?? { count: 0, seconds: 0 };
        s.gc.set(h.labels.kind, { count: g.count + h.count, seconds: g.seconds + h.sum });
      }
      if (windowWrites) s.writes = s.writes ? addSeries(s.writes, windowWrites) : windowWrites;
      if (load.errors > 0) progress(BENCH, `${phase} ${size}: ${load.errors} failed, e.g. ${load.errorSamples[0]}`);
      s.latencies.push(...load.latenciesMs);
      s.requests += load.ok;
      s.errors += load.errors;
      s.elapsedMs += load.elapsedMs;
      s.messagesAtWindow.push(before + load.ok / pool.length / 2);
      const q = summarize(load.latenciesMs);
      progress(
        BENCH,
        `${phase.padEnd(11)} ${concurrency} writer(s) ${String(size).padStart(4)} messages: n=${load.ok} p50=${q.p50_ms} p99=${q.p99_ms} ms ` +
          `rps=${load.rps.toFixed(0)}`,
      );
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return Object.fromEntries(
    SIZES.map((size) => {
      const s = samples.get(size)!;
      const q = summarize(s.latencies);
      const write = s.writes
        ? {
            write_p50_ms: round(histogramQuantile(s.writes, 0.5) * 1000, 2),
            write_p99_ms: round(histogramQuantile(s.writes, 0.99) * 1000, 2),
            writes: s.writes.count,
          }
        : {};
      return [
        size,
        {
          n: q.count,
          errors: s.errors,
          p50_ms: q.p50_ms,
          p99_ms: q.p99_ms,
          max_ms: q.max_ms,
          rps: round(s.requests / (s.elapsedMs / 1000), 1),
          mean_messages: round(mean(s.messagesAtWindow), 0),
          response_kb: round(mean(s.responseBytes) / 1024, 1),
          ...write,
          ...gcFigures(s),
        },
      ];
    }),
  );
}

/**
 * The API process's garbage collection in a size's windows, per second of them: full (major) collections, and the
 * main thread's time in collection of any kind (pauses and incremental marking steps, which run as tasks when the
 * event loop is idle, such as while a write awaits its store: they land in that write's time).
 */
function gcFigures(s: SizeSamples): Record<string, number> {
  const seconds = s.elapsedMs / 1000;
  if (seconds <= 0 || s.gc.size === 0) return {};
  let total = 0;
  for (const g of s.gc.values()) total += g.seconds;
  return {
    gc_major_per_s: round((s.gc.get('major')?.count ?? 0) / seconds, 2),
    gc_ms_per_s: round((total * 1000) / seconds, 1),
  };
}

/** The messages one conversation of the pool holds now (read through the API: the phase's source of truth). */
async function messageCounts(api: ApiProc, ids: string[]): Promise<number> {
  const res = await api.client.expect<{ messages: unknown[] }>(200, 'GET', `/conversations/${ids[0]}`);
  return res.body.messages.length;
}

/**
 * Each store's append write alone: `update(next, version, 'append')` of the store the API uses, called from
 * here on BENCH_APPEND_CONVERSATIONS conversations per size in turn, one writer, with the conversation kept in memory (nothing read, nothing
 * returned), so nothing else runs on the event loop that times it. This is exactly what item 0b changed:
 * PostgreSQL inserts one message row and bumps the version in one guarded statement; the legacy store sends
 * one `updateOne` with the version guard and a `$push`. On the dev server that `$push` still costs the whole
 * document (FerretDB keeps a document as one JSON value and rewrites it on every update; MongoDB applies it in
 * place), which this figure shows with no service in the way.
 */
async function storeAppends(control: BenchApi, o: Options): Promise<BenchLine[]> {
  const n = envInt('BENCH_APPEND_STORE_WRITES', 200);
  const lines: BenchLine[] = [];
  for (const [name, token] of [
    ['new', NEW_STORE],
    ['legacy', LEGACY_STORE],
  ] as const) {
    const store = control.app.get<ConversationStore>(token);
    const bySize: BySize = {};
    for (const size of SIZES) {
      // o.perSize conversations of the size, appended to in turn: each grows by n / perSize messages, not n.
      const pool = Array.from({ length: o.perSize }, (_, k) => conversation(size, 20_000 + size * 100 + k, o.bytes));
      for (const c of pool) if (!(await store.insertNew(c))) throw new Error(`could not seed the ${name} store`);
      const latencies: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = pool[i % pool.length];
        const now = new Date(c.updatedAt.getTime() + 1);
        const next: Conversation = {
          ...c,
          messages: [...c.messages, { role: i % 2 === 0 ? 'user' : 'assistant', content: text(o.bytes, i), createdAt: now }],
          updatedAt: now,
          version: c.version + 1,
        };
        const t0 = performance.now();
        const won = await store.update(next, c.version, 'append');
        latencies.push(performance.now() - t0);
        if (!won) throw new Error(`the ${name} store refused an append at ${c.messages.length} messages`);
        pool[i % pool.length] = next;
      }
      const q = summarize(latencies);
      bySize[size] = {
        n: q.count,
        p50_ms: q.p50_ms,
        p99_ms: q.p99_ms,
        max_ms: q.max_ms,
        mean_messages: round(size + n / o.perSize / 2, 0),
      };
      progress(BENCH, `${name} store's append alone, ${String(size).padStart(4)} messages: p50=${q.p50_ms} p99=${q.p99_ms} ms`);
    }
    const r = ratio(bySize[1000]?.p99_ms ?? NaN, bySize[10]?.p99_ms ?? NaN);
    lines.push({
      bench: BENCH,
      figure: 'append_store_write_p99_flat',
      store: name,
      server: name === 'new' ? 'PostgreSQL' : 'the dev server (FerretDB on SQLite)',
      measure: `p99 of the store's append write alone (update, shape append), 1,000 messages vs 10, one writer, ${n} appends per size over ${o.perSize} conversations`,
      by_messages: bySize,
      ratio: r,
      target: `<=${TARGET}`,
      pass: r <= TARGET,
      ...(name === 'legacy'
        ? { note: 'FerretDB rewrites the whole document on every update whatever the operator; MongoDB applies $push in place' }
        : {}),
    });
  }
  return lines;
}

function addSeries(a: HistogramSeries, b: HistogramSeries): HistogramSeries {
  const buckets = a.buckets.map((x) => ({ ...x, count: x.count + (b.buckets.find((y) => y.le === x.le)?.count ?? 0) }));
  return { labels: a.labels, buckets, sum: a.sum + b.sum, count: a.count + b.count };
}
