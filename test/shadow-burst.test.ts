import { INestApplicationContext } from '@nestjs/common';
import * as net from 'node:net';
import { ShadowQueue } from '../src/shadow/shadow-queue';
import type { ShadowReadPort } from '../src/shadow/shadow-read.port';
import { ShadowSampler } from '../src/shadow/shadow-sampler';
import type Redis from 'ioredis';
import { redisForQueues } from '../src/stores/redis';
import { REDIS } from '../src/stores/stores.module';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN, servicesEnv } from './support/env';
import { sampleCount, sleep, startShadowWorker, waitForShadowIdle } from './support/shadow';
import { waitFor } from './support/stores';

const QUEUE_MAX = 25;
const BURST = 400;
const CONCURRENCY = 16;

function counter(metrics: string, name: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function burst(t: TestApp, ids: string[], n: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        statuses.push((await t.request('GET', `/conversations/${ids[i % ids.length]}`)).status);
      }
    }),
  );
  return statuses;
}

describe('shadow sampling under a burst far beyond the workers', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  const ids: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));

  beforeAll(async () => {
    t = await startTestApp({
      ...isolatedRedis(),
      SHADOW_SAMPLE_RATE: '1',
      SHADOW_CALIBRATION_RATE: '0',
      SHADOW_QUEUE_MAX: String(QUEUE_MAX),
      SHADOW_WORKER_CONCURRENCY: '1',
    });
    await t.setPhase('shadow');
    await t.app.get(ShadowQueue).queue.obliterate({ force: true });
    for (let i = 0; i < 8; i++) {
      const res = await t.request('POST', '/conversations', {
        body: { userId: 'burst', title: `c${i}`, messages: [{ role: 'user', content: 'hi' }] },
      });
      ids.push(res.body.id);
    }
    // A worker that compares nothing while the burst lasts (its reads wait for the gate), then one at a time.
    worker = await startShadowWorker(t.config, (stores): ShadowReadPort => ({
      get: async (store, id) => {
        await gate;
        return stores.get(store, id);
      },
      list: (store, userId, limit, after) => stores.list(store, userId, limit, after),
    }));
  });

  afterAll(async () => {
    open();
    await worker?.close();
    await t?.close();
  });

  it('keeps the queue within its bound, answers every read, and counts what it drops', async () => {
    // An observer of the queue the way the bound counts it (samples in jobs and in admissions under way), on
    // a connection of its own; and of the jobs as BullMQ counts them, which cannot be more than the samples.
    const connection = redisForQueues(t.config.redis);
    if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
    const observer = new ShadowQueue(connection, t.config.redis.keyPrefix, QUEUE_MAX);
    let maxDepth = 0;
    let maxJobs = 0;
    let observing = true;
    const observe = (async () => {
      while (observing) {
        maxDepth = Math.max(maxDepth, await observer.depth());
        const c = await observer.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
        maxJobs = Math.max(maxJobs, c.waiting + c.prioritized + c.delayed + c.active);
        await sleep(2);
      }
    })();
    const samplesBefore = await sampleCount(t);
    let statuses: number[];
    try {
      statuses = await burst(t, ids, BURST);
      await t.app.get(ShadowSampler).settled();
    } finally {
      observing = false;
      await observe;
      await observer.close();
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(BURST);
    // The burst filled the queue (so the bound was tested) and never took it past the bound.
    expect(maxDepth).toBe(QUEUE_MAX);
    expect(maxJobs).toBeGreaterThan(0);
    expect(maxJobs).toBeLessThanOrEqual(QUEUE_MAX);

    const metrics = await t.metrics();
    const enqueued = counter(metrics, 'shadow_samples_total', 'endpoint="get",result="enqueued"');
    const dropped = counter(metrics, 'shadow_samples_total', 'endpoint="get",result="dropped"');
    // The worker took one job and is held: exactly the bound was admitted, everything else dropped.
    expect({ enqueued, dropped }).toEqual({ enqueued: QUEUE_MAX, dropped: BURST - QUEUE_MAX });
    expect(counter(metrics, 'shadow_dropped_total', 'reason="full"') + counter(metrics, 'shadow_dropped_total', 'reason="busy"')).toBe(
      dropped,
    );

    // Every replica sees the drops: they are flushed to PostgreSQL.
    await t.app.get(ShadowSampler).flushDrops();
    const status = (await t.request('GET', '/migration/shadow', { token: OPERATOR_TOKEN })).body;
    expect(status.window.dropped).toBe(dropped);
    expect(status.queue.max).toBe(QUEUE_MAX);

    // And every sample that was queued is compared once the worker gets going.
    open();
    await waitFor(
      'the slow worker to compare every queued sample',
      async () => (await sampleCount(t)) === samplesBefore + enqueued,
      60_000,
      100,
    );
    await waitForShadowIdle(t);
    expect((await t.request('GET', '/migration/shadow', { token: OPERATOR_TOKEN })).body.window).toMatchObject({
      compared: enqueued,
      matched: enqueued,
      mismatched: 0,
    });
  });

  it('samples nothing in a phase without shadow comparison', async () => {
    await t.setPhase('not_started');
    try {
      const before = await t.metrics();
      await burst(t, ids, 20);
      await t.app.get(ShadowSampler).settled();
      const after = await t.metrics();
      const delta = (result: string) =>
        counter(after, 'shadow_samples_total', `endpoint="get",result="${result}"`) -
        counter(before, 'shadow_samples_total', `endpoint="get",result="${result}"`);
      expect({ off: delta('off'), enqueued: delta('enqueued'), dropped: delta('dropped') }).toEqual({ off: 20, enqueued: 0, dropped: 0 });
      expect(await t.app.get(ShadowQueue).depth()).toBe(0);
    } finally {
      await t.setPhase('shadow');
    }
  });
});

describe('shadow sampling with Redis down', () => {
  let t: TestApp;

  beforeAll(async () => {
    // A port nothing listens on.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    // Down the way this run's Redis is set up: one Redis, or a cluster whose seed node does not answer.
    const dead: Record<string, string> = servicesEnv().REDIS_CLUSTER_NODES
      ? { REDIS_CLUSTER_NODES: `127.0.0.1:${port}` }
      : { REDIS_URL: `redis://127.0.0.1:${port}/0` };
    t = await startTestApp({ ...dead, SHADOW_SAMPLE_RATE: '1' });
    await t.setPhase('shadow');
  });

  afterAll(async () => {
    const redis = t?.app.get<Redis>(REDIS);
    await t?.close();
    // StoresModule ends its Redis connection with QUIT, which a connection that never came up cannot
    // send; it would go on reconnecting and keep Jest from exiting.
    redis?.disconnect();
  });

  it('serves every read and counts each sample as dropped', async () => {
    const created = await t.request('POST', '/conversations', { body: { userId: 'no-redis', title: 'x' } });
    expect(created.status).toBe(201);
    const statuses = await burst(t, [created.body.id], 50);
    expect(statuses.every((s) => s === 200)).toBe(true);
    await t.app.get(ShadowSampler).settled();
    const metrics = await t.metrics();
    expect(counter(metrics, 'shadow_dropped_total', 'reason="unavailable"')).toBe(50);
    await t.app.get(ShadowSampler).flushDrops();
    const status = await t.request('GET', '/migration/shadow', { token: OPERATOR_TOKEN });
    expect(status.status).toBe(200);
    expect(status.body.window).toMatchObject({ dropped: 50, droppedByReason: { unavailable: 50 } });
    expect(status.body.queue.depth).toBeNull();
  });
});
