/**
 * append (issue 18, item 0b: "an append costs the same at message 1,000 as at message 1"): the latency of
 * POST /conversations/:id/messages on conversations that already hold 10, 100 and 1,000 messages, in each
 * write mode of the phase table: `not_started` (legacy only), `shadow` (legacy primary, new secondary; canary
 * and rollout write the same way), `deprecation` (new primary, legacy follow-up off the request path) and
 * `cleanup` (new only). Target: in every phase the p99 at 1,000 messages is at most 1.5x the p99 at 10.
 *
 * Boots the real API in-process on fresh databases and drives it over HTTP (keep-alive), a closed loop at
 * BENCH_APPEND_CONCURRENCY. Per phase: both stores emptied, BENCH_APPEND_CONVERSATIONS conversations of each
 * size written straight into both stores (as the dual writes would have left them), then the sizes are
 * measured in turn (10, 100, 1,000, then backwards, BENCH_APPEND_ROUNDS times; samples pooled per size), each
 * window BENCH_APPEND_REQUESTS appends of BENCH_APPEND_BYTES-byte messages or BENCH_APPEND_MAX_SECONDS. A
 * worker appends only to conversations of its own (one writer per conversation, as a chat user is), so the
 * figure is the write path's cost, not compare-and-set retries. The conversations grow during the windows
 * (the line gives the mean size measured).
 *
 * Two figures per size: the request's p99 as the client sees it, and the write's own p99, the source of
 * truth's store write (store_write_duration_seconds{role="primary"} from GET /metrics, diffed around each
 * window, interpolated in its buckets). The target is on the write: what item 0b changes. The request also
 * reads the whole conversation and returns it whole (SPEC section 2: 201 with the conversation), about
 * `response_kb` per answer, 500 KB at 1,000 messages, which no write path can make flat: that part is reported
 * (`request_ratio`), not judged. On the dev server a legacy write rewrites the whole document whatever the
 * operator (FerretDB stores a document as one JSON value), so the legacy phases' write is not flat there.
 *
 * Knobs (defaults): BENCH_APPEND_CONCURRENCY (8), BENCH_APPEND_CONVERSATIONS (16 per size),
 * BENCH_APPEND_REQUESTS (240 per window), BENCH_APPEND_MAX_SECONDS (15), BENCH_APPEND_ROUNDS (2),
 * BENCH_APPEND_BYTES (500), BENCH_APPEND_PHASES (not_started,shadow,deprecation,cleanup).
 */
import type { Db } from 'mongodb';
import type { Conversation } from '../../src/model/conversation.model';
import { newConversationId } from '../../src/model/object-id';
import { isPhase, modeForPhase, Phase } from '../../src/model/phases';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../../src/stores/conversation-store.port';
import { LEGACY_DB } from '../../src/stores/stores.module';
import { BenchApi, startApi } from '../lib/api';
import { createFreshDatabases } from '../lib/fresh-db';
import { closedLoop } from '../lib/load';
import { envInt, progress, round } from '../lib/log';
import { diffHistograms, histogram, histogramQuantile, HistogramSeries } from '../lib/prom';
import { ratio, summarize } from '../lib/stats';
import type { BenchLine } from '../lib/types';

const BENCH = 'append';
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
}

export async function run(): Promise<BenchLine[]> {
  const o = {
    concurrency: envInt('BENCH_APPEND_CONCURRENCY', 8),
    perSize: envInt('BENCH_APPEND_CONVERSATIONS', 16),
    requests: envInt('BENCH_APPEND_REQUESTS', 240),
    maxSeconds: envInt('BENCH_APPEND_MAX_SECONDS', 15),
    rounds: envInt('BENCH_APPEND_ROUNDS', 2),
    bytes: envInt('BENCH_APPEND_BYTES', 500),
  };
  if (o.perSize < o.concurrency)
    throw new Error('BENCH_APPEND_CONVERSATIONS must be at least BENCH_APPEND_CONCURRENCY (one writer per conversation)');
  const dbs = await createFreshDatabases('append');
  const api = await startApi(dbs, { concurrency: o.concurrency });
  const lines: BenchLine[] = [];
  const chart: Array<{ name: string; points: Array<[number, number]> }> = [];
  const requestChart: Array<{ name: string; points: Array<[number, number]> }> = [];
  try {
    progress(
      BENCH,
      `API on ${api.url}; ${o.concurrency} writers, ${o.perSize} conversations per size, ${o.requests} appends of ${o.bytes} B per window, ${o.rounds} round(s)`,
    );
    for (const phase of phases()) {
      await resetStores(api);
      await api.setPhase(phase);
      const ids = await seed(api, o.perSize, o.bytes);
      const samples = new Map<number, SizeSamples>(
        SIZES.map((s) => [
          s,
          { latencies: [], writes: null, requests: 0, errors: 0, elapsedMs: 0, responseBytes: [], messagesAtWindow: [] },
        ]),
      );
      const sent = new Map<string, number>();
      for (let r = 0; r < o.rounds; r++) {
        for (const size of r % 2 === 0 ? SIZES : [...SIZES].reverse()) {
          const pool = ids.get(size)!;
          const s = samples.get(size)!;
          // Worker w appends to pool[w], pool[w + concurrency], ... in turn: no two writers on one conversation.
          const turn = new Array<number>(o.concurrency).fill(0);
          const mine = (w: number) => pool.filter((_, k) => k % o.concurrency === w);
          const before = pool.reduce((a, id) => a + (sent.get(id) ?? 0), 0);
          const metrics0 = await api.metrics();
          const load = await closedLoop(
            async (i, w) => {
              const own = mine(w);
              const id = own[turn[w]++ % own.length];
              const res = await api.client.expect(201, 'POST', `/conversations/${id}/messages`, {
                role: i % 2 === 0 ? 'user' : 'assistant',
                content: text(o.bytes, i),
              });
              sent.set(id, (sent.get(id) ?? 0) + 1);
              if (s.responseBytes.length < 2000) s.responseBytes.push(res.text.length);
            },
            { concurrency: o.concurrency, count: o.requests, durationMs: o.maxSeconds * 1000 },
          );
          const primary = modeForPhase(phase).sourceOfTruth;
          const windowWrites = [
            ...diffHistograms(
              histogram(metrics0, 'store_write_duration_seconds', ['store', 'role']),
              histogram(await api.metrics(), 'store_write_duration_seconds', ['store', 'role']),
            ).values(),
          ].find((h) => h.labels.store === primary && h.labels.role === 'primary');
          if (windowWrites) s.writes = s.writes ? addSeries(s.writes, windowWrites) : windowWrites;
          if (load.errors > 0) progress(BENCH, `${phase} ${size}: ${load.errors} failed, e.g. ${load.errorSamples[0]}`);
          s.latencies.push(...load.latenciesMs);
          s.requests += load.ok;
          s.errors += load.errors;
          s.elapsedMs += load.elapsedMs;
          s.messagesAtWindow.push(size + (before + load.ok / 2) / pool.length);
          const q = summarize(load.latenciesMs);
          progress(
            BENCH,
            `${phase.padEnd(11)} ${String(size).padStart(4)} messages: n=${load.ok} p50=${q.p50_ms} p99=${q.p99_ms} ms rps=${load.rps.toFixed(0)}`,
          );
        }
      }
      const bySize = Object.fromEntries(
        SIZES.map((size) => {
          const s = samples.get(size)!;
          const q = summarize(s.latencies);
          const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
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
            },
          ];
        }),
      );
      const p99 = (size: number) => (bySize[size] as { p99_ms: number }).p99_ms;
      const writeP99 = (size: number) => (bySize[size] as { write_p99_ms?: number }).write_p99_ms ?? NaN;
      const r1000 = ratio(writeP99(1000), writeP99(10));
      lines.push({
        bench: BENCH,
        figure: 'append_write_p99_flat',
        phase,
        primary: modeForPhase(phase).sourceOfTruth,
        measure: "p99 of the source of truth's store write per append (store_write_duration_seconds, primary), 1,000 messages vs 10",
        by_messages: bySize,
        ratio: r1000,
        ratio_100: ratio(writeP99(100), writeP99(10)),
        baseline: writeP99(10),
        request_ratio: ratio(p99(1000), p99(10)),
        request_note: 'the request reads and returns the whole conversation (SPEC section 2), response_kb per answer',
        concurrency: o.concurrency,
        message_bytes: o.bytes,
        target: `<=${TARGET}`,
        pass: r1000 <= TARGET && SIZES.every((size) => samples.get(size)!.errors === 0),
      });
      chart.push({ name: `${phase} (write)`, points: SIZES.map((size) => [size, writeP99(size)] as [number, number]) });
      requestChart.push({ name: `${phase} (request)`, points: SIZES.map((size) => [size, p99(size)] as [number, number]) });
    }
    lines.push({
      bench: BENCH,
      figure: 'append_p99_by_size',
      by_phase: Object.fromEntries(chart.map((c) => [c.name, Object.fromEntries(c.points)])),
      chart: {
        id: 'append-write-p99',
        title: `Append: the store write's p99 (ms) by conversation length, ${o.concurrency} writers`,
        kind: 'line',
        logX: true,
        x: 'messages already in the conversation',
        y: 'p99 of the primary store write (ms)',
        series: chart,
      },
    });
    lines.push({
      bench: BENCH,
      figure: 'append_request_p99_by_size',
      by_phase: Object.fromEntries(requestChart.map((c) => [c.name, Object.fromEntries(c.points)])),
      chart: {
        id: 'append-request-p99',
        title: `Append: request p99 (ms), whole conversation returned, ${o.concurrency} writers`,
        kind: 'line',
        logX: true,
        x: 'messages already in the conversation',
        y: 'p99 latency of the request (ms)',
        series: requestChart,
      },
    });
  } finally {
    await api.close();
    await dbs.drop();
  }
  return lines;
}

function addSeries(a: HistogramSeries, b: HistogramSeries): HistogramSeries {
  const buckets = a.buckets.map((x) => ({ ...x, count: x.count + (b.buckets.find((y) => y.le === x.le)?.count ?? 0) }));
  return { labels: a.labels, buckets, sum: a.sum + b.sum, count: a.count + b.count };
}
