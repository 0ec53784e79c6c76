/**
 * The producer side of the `backfill` queue. Two kinds of job, both with ids made of the run (and range)
 * numbers, so enqueueing is idempotent:
 * - `split` (one per run): splits the `_id` space, then queues the copy jobs;
 * - `range` (one per lane, named by the lane's first range; and one for range 0): copies that lane.
 * The state lives in PostgreSQL; a job is only the reminder that work needs a worker, so `ensure` can
 * recreate any reminder that got lost (a job that ran out of stalled recoveries or attempts) without
 * risk: the run's `split_complete` and the ranges' leases decide who does what.
 */
import type { Job } from 'bullmq';
import type { RedisClient } from '../../stores/redis';
import { ensureLiveJob } from '../../queues/live-job';
import { QueueName } from '../../queues/queue-names';
import type { JobPayloads } from '../../queues/queue-processor';
import { QueueProducer } from '../../queues/queue-producer';

export type BackfillPayload = JobPayloads[QueueName.Backfill];

export const backfillJobId = (runId: number, rangeNo: number) => `run-${runId}-range-${rangeNo}`;
export const splitJobId = (runId: number) => `run-${runId}-split`;

export enum BackfillJobName {
  Split = 'split',
  Range = 'range',
}

export interface SplitJobState {
  /** BullMQ's state of the split job, or `missing`. */
  state: string;
  /** What the split reported so far (ids scanned, the collection's estimated size). */
  progress: { scanned?: number; estimate?: number } | null;
}

export class BackfillQueue extends QueueProducer<QueueName.Backfill> {
  /** `connection` is shared; the owner closes it. */
  constructor(connection: RedisClient, keyPrefix: string) {
    super(QueueName.Backfill, connection, {
      keyPrefix,
      ownsConnection: false,
      defaultJobOptions: {
        attempts: 20,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 7 * 86400, count: 100_000 },
        removeOnFail: false,
      },
    });
  }

  async enqueue(runId: number, rangeNo: number): Promise<Job<BackfillPayload>> {
    return this.queue.add(BackfillJobName.Range, { runId, rangeNo }, { jobId: backfillJobId(runId, rangeNo) });
  }

  /** Makes sure the run's split job is live (added, or retried if it failed); true when it was (re)queued. */
  async ensureSplit(runId: number): Promise<boolean> {
    return ensureLiveJob(this.queue, splitJobId(runId), () =>
      this.queue.add(BackfillJobName.Split, { runId, split: true }, { jobId: splitJobId(runId) }),
    );
  }

  async splitState(runId: number): Promise<SplitJobState> {
    const job = await this.queue.getJob(splitJobId(runId));
    if (!job) return { state: 'missing', progress: null };
    const progress = typeof job.progress === 'object' && job.progress !== null ? (job.progress as SplitJobState['progress']) : null;
    return { state: await job.getState(), progress };
  }

  /** Worker processes serving this queue now (each has one BullMQ worker on it). */
  async liveWorkers(): Promise<number> {
    return this.queue.getWorkersCount();
  }

  /**
   * Makes sure every given range has a live job: missing ones are added, failed ones retried, and
   * completed ones (which ended without finishing their range, e.g. taken over) added again.
   * Returns how many were (re)queued.
   */
  async ensure(runId: number, rangeNos: number[]): Promise<number> {
    let queued = 0;
    for (const rangeNo of rangeNos) {
      if (await ensureLiveJob(this.queue, backfillJobId(runId, rangeNo), () => this.enqueue(runId, rangeNo))) queued++;
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
}
