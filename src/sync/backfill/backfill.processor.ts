import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { SYNC_CONFIG, SyncConfig } from '../sync.config';
import { QueueName } from '../../queues/queue-names';
import { JobPayloads, PermanentJobError, QueueProcessor } from '../../queues/queue-processor';
import { BackfillJobName } from './backfill.queue';
import { BackfillService, SplitJobOutcome } from './backfill.service';
import { RangeCopier, RangeOutcome } from './range-copier';

/**
 * Runs a run's split job, or copies the lane (or range 0) a range job names. A paused or held job is
 * not a failure: it goes back to `delayed` (without using an attempt) and looks again later. A job
 * that dies with its worker is recovered by BullMQ's stalled check (SYNC_JOB_LOCK_MS,
 * SYNC_STALLED_INTERVAL_MS) and resumes from the ranges' checkpoints once the dead worker's leases
 * (SYNC_LEASE_MS) have expired; a split simply starts again.
 */
@Injectable()
export class BackfillProcessor implements QueueProcessor<QueueName.Backfill>, OnModuleDestroy {
  readonly queue = QueueName.Backfill;
  readonly concurrency: number;
  readonly workerOptions;
  private readonly pausePollMs: number;

  constructor(
    @Inject(SYNC_CONFIG) sync: SyncConfig,
    @Inject(RangeCopier) private readonly copier: RangeCopier,
    @Inject(BackfillService) private readonly backfill: BackfillService,
  ) {
    this.concurrency = sync.backfillConcurrency;
    this.pausePollMs = sync.pausePollMs;
    this.workerOptions = {
      lockDuration: sync.jobLockMs,
      stalledInterval: sync.stalledIntervalMs,
      maxStalledCount: sync.maxStalledCount,
    };
  }

  onModuleDestroy(): void {
    this.backfill.stop();
  }

  async process(job: Job<JobPayloads[QueueName.Backfill]>, token?: string): Promise<RangeOutcome | SplitJobOutcome> {
    const data = (job.data ?? {}) as Partial<{ runId: number; rangeNo: number }>;
    const split = job.name === BackfillJobName.Split;
    if (!Number.isSafeInteger(data.runId) || (!split && !Number.isSafeInteger(data.rangeNo))) {
      throw new PermanentJobError(`bad backfill payload ${JSON.stringify(job.data)}`);
    }
    const outcome = split
      ? await this.backfill.split(data.runId!, (p) => job.updateProgress(p))
      : await this.copier.copy(data.runId!, data.rangeNo!);
    const delay = this.delayFor(outcome);
    if (delay !== null) {
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }
    return outcome;
  }

  private delayFor(o: RangeOutcome | SplitJobOutcome): number | null {
    switch (o.outcome) {
      case 'paused':
        return this.pausePollMs;
      case 'held':
        return o.retryInMs + jitter();
      case 'stopped':
        return 0;
      case 'done':
      case 'gone':
      case 'lease_lost':
        return null;
    }
  }
}

function jitter(): number {
  return Math.floor(Math.random() * 250);
}
