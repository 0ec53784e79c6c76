/**
 * The jobs each queue this process serves holds, by state, read from Redis when Prometheus scrapes: what the
 * sync workers' autoscaler scales on (KEDA, deployment/kubernetes/base/workers/sync-scaledobject.yaml: the
 * backfill's lanes and verification runs waiting or running). Every process serving a queue reports the same
 * figure, so queries take the max per queue and state. A failed read leaves the series out of that scrape.
 */
import { Gauge } from 'prom-client';
import type { MetricsService } from '../common/metrics/metrics.service';
import type { RedisClient } from '../stores/redis';
import type { QueueName } from './queue-names';
import { QueueProducer } from './queue-producer';

export const QUEUE_JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed'] as const;

/** A queue read for its counts only (it adds nothing). */
class QueueCounter<Q extends QueueName> extends QueueProducer<Q> {
  constructor(name: Q, connection: RedisClient, keyPrefix: string) {
    super(name, connection, { ownsConnection: false, keyPrefix, defaultJobOptions: {} });
  }

  counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts(...QUEUE_JOB_STATES);
  }
}

/** Registers `queue_jobs{queue,state}` for `queues`; returns what closes the counters' queues. */
export function registerQueueDepth(
  metrics: MetricsService,
  queues: readonly QueueName[],
  connection: RedisClient,
  keyPrefix: string,
): () => Promise<void> {
  if (metrics.registry.getSingleMetric('queue_jobs')) return async () => undefined;
  const counters = queues.map((q) => new QueueCounter(q, connection, keyPrefix));
  new Gauge({
    name: 'queue_jobs',
    help: 'Jobs in each queue this process serves, by state (waiting, prioritized, delayed, active, failed), read from Redis at scrape time',
    labelNames: ['queue', 'state'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      await Promise.all(
        counters.map(async (c) => {
          const counts = await c.counts().catch(() => null);
          if (counts) for (const state of QUEUE_JOB_STATES) this.set({ queue: c.queue.name, state }, counts[state] ?? 0);
        }),
      );
    },
  });
  return async () => {
    await Promise.all(counters.map((c) => c.close()));
  };
}
