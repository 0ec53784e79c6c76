/**
 * An in-process repair worker on a test app's configuration (the same databases and Redis), and a wait
 * for the repair queue to drain, with a timeout.
 */
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppConfig } from '../../src/app-config';
import { QueueName } from '../../src/queues/queue-names';
import { RepairQueue } from '../../src/repair/repair-queue';
import { waitFor } from './stores';

export async function startRepairWorker(config: AppConfig): Promise<INestApplicationContext> {
  // Required lazily, as a worker process does, so importing this helper does not build the module graph.
  const { WorkerModule } = await import('../../src/worker.module');
  const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, [QueueName.Repair]), { logger: false });
  await ctx.init();
  return ctx;
}

/** Counts of the repair queue as the API process's producer sees them. */
export async function repairCounts(queue: RepairQueue): Promise<Record<string, number>> {
  return queue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed');
}

/** Waits until no repair job is waiting, running or scheduled for a retry. */
export async function waitForRepairsDrained(queue: RepairQueue, timeoutMs = 30000): Promise<void> {
  await waitFor(
    'the repair queue to drain',
    async () => {
      const c = await repairCounts(queue);
      return c.waiting + c.active + c.delayed + c.prioritized + c['waiting-children'] === 0;
    },
    timeoutMs,
    200,
  );
}

/** Repairs that ran out of attempts (the dead-letter list) for any of `ids`. */
export async function deadRepairsFor(queue: RepairQueue, ids: Iterable<string>): Promise<Array<{ id: string; failedReason: string }>> {
  const wanted = new Set(ids);
  const failed = await queue.queue.getFailed(0, -1);
  return failed.filter((j) => wanted.has(j.data?.id)).map((j) => ({ id: j.data.id, failedReason: j.failedReason }));
}
