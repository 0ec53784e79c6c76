/**
 * flip (SPEC §6: "write pause at the source-of-truth flip: p99 and max reported").
 *
 * Two API replicas (each a Nest app of its own in this process, with its own pools) on fresh databases at
 * rollout 100 %. BENCH_CONCURRENCY writers append to BENCH_FLIP_CONVERSATIONS shared conversations through
 * both replicas in turn, while an operator flips the source of truth into deprecation (a forced advance) and
 * back (a rollback) BENCH_FLIP_COUNT times each, a second apart. Every write keeps its invoke and complete
 * time. Figures:
 * - `write_at_flip`: latency of the writes that overlapped a flip's commit window (invoked before the move
 *   answered, completed after it was asked for): p99 and max, beside the p99 of the writes that met no flip
 *   (the baseline) and the ratio;
 * - `fence_pause`: the server's own figure for each flip from its audit entry (writes waited for the writes in
 *   flight to finish, then were held while the cutover's fenced half ran): p99 and max of wait + hold;
 * - how many writes failed (5xx would break the promise that a flip is never answered 5xx).
 *
 * Knobs (defaults): BENCH_CONCURRENCY (16), BENCH_FLIP_COUNT (5), BENCH_FLIP_CONVERSATIONS (32).
 */
import { performance } from 'node:perf_hooks';
import { BenchApi, startApi } from '../lib/api';
import { scenarioRedisEnv, spawnWorker, workerEnv } from '../lib/engine';
import { createFreshDatabases, FreshDatabases } from '../lib/fresh-db';
import { JsonClient } from '../lib/http';
import { envInt, progress, round, sleep } from '../lib/log';
import { ratio, summarize } from '../lib/stats';
import type { BenchLine } from '../lib/types';

const BENCH = 'flip';
const OPERATOR_TOKEN = 'bench-operator-token-000000000001';

interface Write {
  t0: number;
  t1: number;
  status: number;
}

interface Flip {
  t0: number;
  t1: number;
  direction: 'advance' | 'rollback';
  status: number;
  waitedMs?: number;
  heldMs?: number;
}

/**
 * The historical sync, by a worker process of its own: the flip into deprecation needs a completed backfill (force
 * cannot pass that gate). Legacy holds nothing yet, so it is over at once.
 */
async function completeBackfill(operator: JsonClient, dbs: FreshDatabases, redisEnv: Record<string, string>): Promise<void> {
  const worker = await spawnWorker(`${BENCH}-backfill`, workerEnv(dbs.databaseUrl, dbs.legacyUrl, 'backfill', redisEnv));
  try {
    const started = await operator.request('POST', '/migration/sync/backfill', {});
    if (started.status !== 202) throw new Error(`POST /migration/sync/backfill -> ${started.status} ${started.text.slice(0, 300)}`);
    for (const deadline = Date.now() + 120_000; ; await sleep(250)) {
      const sync = await operator.request<{ backfill: { status: string } | null }>('GET', '/migration/sync');
      const status = sync.body?.backfill?.status;
      if (status === 'completed') return;
      if (status === 'failed' || Date.now() > deadline) throw new Error(`the backfill did not complete: ${sync.text.slice(0, 300)}`);
    }
  } finally {
    await worker.stop();
  }
}

export async function run(): Promise<BenchLine[]> {
  const concurrency = envInt('BENCH_CONCURRENCY', 16);
  const flips = envInt('BENCH_FLIP_COUNT', 5);
  const conversations = envInt('BENCH_FLIP_CONVERSATIONS', 32);
  const dbs = await createFreshDatabases(BENCH);
  const redisEnv = scenarioRedisEnv();
  const env = { ...redisEnv, OPERATOR_API_TOKENS: `bench-ops:${OPERATOR_TOKEN}`, GATE_PROFILE: 'short', MODE_CACHE_TTL_MS: '1000' };
  const replicas: BenchApi[] = [await startApi(dbs, { concurrency, env }), await startApi(dbs, { concurrency, env })];
  const operator = new JsonClient(replicas[0].url, OPERATOR_TOKEN, 2);
  try {
    await replicas[0].pg.query(
      `UPDATE migration_state SET phase = 'rollout', step = 4, revision = revision + 1, legacy_drained_since = now() WHERE id = 1`,
    );
    await completeBackfill(operator, dbs, redisEnv);
    const ids: string[] = [];
    for (let i = 0; i < conversations; i++) {
      const res = await replicas[i % 2].client.request<{ id: string }>('POST', '/conversations', {
        userId: `flip-${i % 4}`,
        title: `flip ${i}`,
      });
      if (res.status !== 201) throw new Error(`create -> ${res.status} ${res.text.slice(0, 200)}`);
      ids.push(res.body.id);
    }

    const writes: Write[] = [];
    let running = true;
    let n = 0;
    const writer = async (w: number) => {
      while (running) {
        const i = n++;
        const replica = replicas[(i + w) % 2];
        const t0 = performance.now();
        const res = await replica.client
          .request('POST', `/conversations/${ids[i % ids.length]}/messages`, { role: 'user', content: `w${w} #${i}` })
          .catch(() => ({ status: 0 }));
        writes.push({ t0, t1: performance.now(), status: res.status });
      }
    };
    const load = Array.from({ length: concurrency }, (_, w) => writer(w));

    const done: Flip[] = [];
    await sleep(1500);
    for (let i = 0; i < flips * 2; i++) {
      const direction = i % 2 === 0 ? 'advance' : 'rollback';
      const body =
        direction === 'advance' ? { reason: 'bench: flip to the new store', force: true } : { reason: 'bench: flip back to legacy' };
      const t0 = performance.now();
      const res = await operator.request<{ committed?: { pause?: { waitedMs: number; heldMs: number } } } | null>(
        'POST',
        `/migration/${direction}`,
        body,
      );
      const flip: Flip = { t0, t1: performance.now(), direction, status: res.status };
      const pause = res.body?.committed?.pause;
      if (pause) Object.assign(flip, { waitedMs: pause.waitedMs, heldMs: pause.heldMs });
      done.push(flip);
      progress(
        BENCH,
        `${direction}: HTTP ${res.status} in ${Math.round(flip.t1 - flip.t0)} ms (writes waited ${flip.waitedMs ?? '?'} ms, held ${flip.heldMs ?? '?'} ms)`,
      );
      if (res.status !== 200) throw new Error(`${direction} -> ${res.status} ${res.text.slice(0, 300)}`);
      await sleep(1000);
    }
    running = false;
    await Promise.all(load);

    const ok = writes.filter((w) => w.status === 201);
    const overlaps = (w: Write) => done.some((f) => w.t0 < f.t1 && w.t1 > f.t0);
    const atFlip = summarize(ok.filter(overlaps).map((w) => w.t1 - w.t0));
    const elsewhere = summarize(ok.filter((w) => !overlaps(w)).map((w) => w.t1 - w.t0));
    const server = summarize(done.map((f) => (f.waitedMs ?? 0) + (f.heldMs ?? 0)));
    const failed = writes.filter((w) => w.status !== 201);
    return [
      {
        bench: BENCH,
        figure: 'write_at_flip',
        flips: done.length,
        writes: ok.length,
        at_flip: atFlip,
        baseline: elsewhere,
        p99_ratio: ratio(atFlip.p99_ms, elsewhere.p99_ms),
        max_ms: atFlip.max_ms,
        note: 'latency of appends overlapping a flip request vs appends that met none; two API replicas, legacy on the dev server',
        chart: {
          id: 'flip-write-latency',
          title: 'Append latency at a source-of-truth flip vs elsewhere (ms)',
          kind: 'bar',
          x: 'percentile',
          y: 'latency (ms)',
          series: [
            {
              name: 'overlapping a flip',
              points: [
                ['p50', atFlip.p50_ms],
                ['p90', atFlip.p90_ms],
                ['p99', atFlip.p99_ms],
                ['max', atFlip.max_ms],
              ],
            },
            {
              name: 'no flip',
              points: [
                ['p50', elsewhere.p50_ms],
                ['p90', elsewhere.p90_ms],
                ['p99', elsewhere.p99_ms],
                ['max', elsewhere.max_ms],
              ],
            },
          ],
        },
      },
      {
        bench: BENCH,
        figure: 'fence_pause',
        flips: done.length,
        p99_ms: server.p99_ms,
        max_ms: server.max_ms,
        mean_ms: server.mean_ms,
        by_direction: {
          advance: summarize(done.filter((f) => f.direction === 'advance').map((f) => (f.waitedMs ?? 0) + (f.heldMs ?? 0))),
          rollback: summarize(done.filter((f) => f.direction === 'rollback').map((f) => (f.waitedMs ?? 0) + (f.heldMs ?? 0))),
        },
        source: 'the committed moves: writes waited for those in flight, then were held while the fenced cutover ran',
      },
      {
        bench: BENCH,
        figure: 'writes_failed_at_flips',
        failed: failed.length,
        server_errors: failed.filter((w) => w.status >= 500 || w.status === 0).length,
        of: writes.length,
        throughput_rps: round(ok.length / ((writes[writes.length - 1]?.t1 - writes[0]?.t0) / 1000 || 1)),
        pass: failed.filter((w) => w.status >= 500 || w.status === 0).length === 0,
        target: 'no write answered 5xx because of a flip',
      },
    ];
  } finally {
    operator.close();
    for (const r of replicas) await r.close();
  }
}
