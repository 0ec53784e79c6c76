import { Inject, Injectable } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { QueueName } from '../../queues/queue-names';
import { JobPayloads, PermanentJobError, QueueProcessor } from '../../queues/queue-processor';
import { RangeCopier, RangeOutcome } from './range-copier';

/**
 * Copies the range a job names. A paused or held range is not a failure: the job goes back to
 * `delayed` (without using an attempt) and looks again later. A job that dies with its worker is
 * recovered by BullMQ's stalled check (SYNC_JOB_LOCK_MS, SYNC_STALLED_INTERVAL_MS) and resumes from
 * the range's checkpoint once the dead worker's lease (SYNC_LEASE_MS) has expired.
 */
@Injectable()
export class BackfillProcessor implements QueueProcessor<QueueName.Backfill> {
  readonly queue = QueueName.Backfill;
  readonly concurrency: number;
  readonly workerOptions;
  private readonly pausePollMs: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(RangeCopier) private readonly copier: RangeCopier) {
    this.concurrency = config.sync.backfillConcurrency;
    this.pausePollMs = config.sync.pausePollMs;
    this.workerOptions = {
      lockDuration: config.sync.jobLockMs,
      stalledInterval: config.sync.stalledIntervalMs,
      maxStalledCount: config.sync.maxStalledCount,
    };
  }

  async process(job: Job<JobPayloads[QueueName.Backfill]>, token?: string): Promise<RangeOutcome> {
    const { runId, rangeNo } = job.data ?? ({} as JobPayloads[QueueName.Backfill]);
    if (!Number.isSafeInteger(runId) || !Number.isSafeInteger(rangeNo)) throw new PermanentJobError(`bad backfill payload ${JSON.stringify(job.data)}`);
    const outcome = await this.copier.copy(runId, rangeNo);
    if (outcome.outcome === 'paused' || outcome.outcome === 'held' || outcome.outcome === 'stopped') {
      const delay =
        outcome.outcome === 'paused' ? this.pausePollMs : outcome.outcome === 'held' ? outcome.retryInMs + Math.floor(Math.random() * 250) : 0;
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }
    return outcome;
  }
}
