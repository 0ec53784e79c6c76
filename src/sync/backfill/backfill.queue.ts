/**
 * The producer side of the `backfill` queue: one job per range, with a job id made of the run and range
 * numbers, so enqueueing is idempotent. The range's state lives in PostgreSQL; a job is only the
 * reminder that a range needs a worker, so `ensure` can recreate any reminder that got lost (a job
 * that ran out of stalled recoveries or attempts) without risk: the lease decides who copies.
 */
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { QueueName } from '../../queues/queue-names';
import type { JobPayloads } from '../../queues/queue-processor';
import { QUEUE_PREFIX } from '../../queues/worker-host';

export type BackfillPayload = JobPayloads[QueueName.Backfill];

export const backfillJobId = (runId: number, rangeNo: number) => `run-${runId}-range-${rangeNo}`;

export class BackfillQueue {
  readonly queue: Queue<BackfillPayload>;

  /** `connection` is shared; the owner closes it. */
  constructor(connection: Redis, prefix = QUEUE_PREFIX) {
    this.queue = new Queue<BackfillPayload>(QueueName.Backfill, {
      connection,
      prefix,
      defaultJobOptions: {
        attempts: 20,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 7 * 86400, count: 100_000 },
        removeOnFail: false,
      },
    });
    this.queue.on('error', () => undefined);
  }

  async enqueue(runId: number, rangeNo: number): Promise<void> {
    await this.queue.add('range', { runId, rangeNo }, { jobId: backfillJobId(runId, rangeNo) });
  }

  /**
   * Makes sure every given range has a live job: missing ones are added, failed ones retried, and
   * completed ones (which ended without finishing their range, e.g. taken over) added again.
   * Returns how many were (re)queued.
   */
  async ensure(runId: number, rangeNos: number[]): Promise<number> {
    let queued = 0;
    for (const rangeNo of rangeNos) {
      const job = await this.queue.getJob(backfillJobId(runId, rangeNo));
      const state = job ? await job.getState() : 'missing';
      if (state === 'failed') {
        await job!.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      } else if (state === 'completed' || state === 'missing' || state === 'unknown') {
        if (job) await job.remove().catch(() => undefined);
        await this.enqueue(runId, rangeNo);
      } else {
        continue;
      }
      queued++;
    }
    return queued;
  }

  /** Brings jobs waiting out a pause back at once (after a resume). */
  async promoteDelayed(): Promise<number> {
    const delayed = await this.queue.getDelayed(0, -1);
    let promoted = 0;
    for (const job of delayed) {
      try {
        await job.promote();
        promoted++;
      } catch {
        /* it left the delayed set meanwhile */
      }
    }
    return promoted;
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
  }
}
