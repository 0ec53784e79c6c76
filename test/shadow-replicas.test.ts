/**
 * The shadow queue's bound holds across replicas: two API processes (a private cluster, support/private-cluster.ts)
 * sample every read into one queue of 25 samples while its worker is stopped. Each replica gathers its samples
 * into batches and offers them through the one admission script, so together they may admit exactly the bound
 * and must drop the rest, counted; the queue, observed in samples throughout, never holds more. Once the worker is back, every admitted sample is compared.
 */
import type { DataSource } from 'typeorm';
import { EnvReader } from '../src/config/env-reader';
import { ShadowQueue } from '../src/shadow/shadow-queue';
import { redisForQueues } from '../src/stores/redis';
import { readRedisConfig } from '../src/stores/stores.config';
import type { Cluster } from './support/history/cluster';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';

const QUEUE_MAX = 25;
const READS = 600;
const CLIENTS = 16;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counter(metrics: string, name: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('the shadow queue bound across two API processes', () => {
  let rig: PrivateCluster;
  let cluster: Cluster;
  let ds: DataSource;

  beforeAll(async () => {
    rig = await startPrivateCluster('shadow-replicas', {
      MIGRATION_INITIAL_PHASE: 'shadow',
      SHADOW_SAMPLE_RATE: '1',
      SHADOW_CALIBRATION_RATE: '0',
      SHADOW_QUEUE_MAX: String(QUEUE_MAX),
      SHADOW_BATCH_MS: '20',
    });
    ({ cluster, ds } = rig);
  }, 240_000);

  afterAll(async () => {
    await rig?.close();
  }, 120_000);

  const call = (replica: number, method: string, p: string, body?: unknown) => cluster.request(replica, method, p, body);

  const metricsOf = async (replica: number) =>
    (await fetch(`http://127.0.0.1:${cluster.replicas[replica].metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();

  /** Samples enqueued and dropped, over both replicas, and samples taken by each. */
  const totals = async () => {
    let enqueued = 0;
    let dropped = 0;
    const taken: number[] = [];
    for (let i = 0; i < cluster.replicas.length; i++) {
      const m = await metricsOf(i);
      const [e, d] = ['enqueued', 'dropped'].map((result) => counter(m, 'shadow_samples_total', `endpoint="get",result="${result}"`));
      enqueued += e;
      dropped += d;
      taken.push(e + d);
    }
    return { enqueued, dropped, taken };
  };

  it('admits exactly the bound from both replicas together, drops and counts the rest, then compares every admitted sample', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await call(i, 'POST', '/conversations', {
        userId: 'replicas',
        title: `c${i}`,
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    // Samples of the creates' reads, if any, are compared before the burst starts.
    await sleep(500);
    const comparedBefore = Number((await ds.query(`SELECT count(*)::int AS n FROM shadow_samples`))[0].n);
    const before = await totals();
    await cluster.worker.stop();

    const connection = redisForQueues(readRedisConfig(new EnvReader({ REDIS_URL: rig.services.env.REDIS_URL })));
    if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
    const observer = new ShadowQueue(connection, 'lms', QUEUE_MAX);
    let maxDepth = 0;
    let observing = true;
    const observe = (async () => {
      while (observing) {
        maxDepth = Math.max(maxDepth, await observer.depth());
        await sleep(2);
      }
    })();
    const statuses: number[] = [];
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < READS) {
            const i = next++;
            statuses.push((await call(i, 'GET', `/conversations/${ids[i % ids.length]}`)).status);
          }
        }),
      );
      // Both replicas' last batches go out within their window; the counts then stand still.
      await sleep(500);
    } finally {
      observing = false;
      await observe;
    }
    const after = await totals();
    const burst = { enqueued: after.enqueued - before.enqueued, dropped: after.dropped - before.dropped };
    // Each replica served half the reads and sampled every one.
    expect(after.taken.map((n, i) => n - before.taken[i])).toEqual([READS / 2, READS / 2]);
    try {
      expect(statuses.filter((s) => s === 200)).toHaveLength(READS);
      expect(burst).toEqual({ enqueued: QUEUE_MAX, dropped: READS - QUEUE_MAX });
      expect(maxDepth).toBe(QUEUE_MAX);
      expect(await observer.depth()).toBe(QUEUE_MAX);
    } finally {
      await observer.close();
    }

    await cluster.worker.start();
    const deadline = Date.now() + 60_000;
    let compared = 0;
    while (Date.now() < deadline) {
      compared = Number((await ds.query(`SELECT count(*)::int AS n FROM shadow_samples`))[0].n) - comparedBefore;
      if (compared >= QUEUE_MAX) break;
      await sleep(250);
    }
    expect(compared).toBe(QUEUE_MAX);
    const outcomes = await ds.query(`SELECT outcome, count(*)::int AS n FROM shadow_samples GROUP BY 1`);
    expect(outcomes).toEqual([{ outcome: 'matched', n: comparedBefore + QUEUE_MAX }]);
  }, 180_000);
});
