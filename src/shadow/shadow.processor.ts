import { Inject, Injectable } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { SHADOW_CONFIG, ShadowConfig } from './shadow.config';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads, QueueProcessor } from '../queues/queue-processor';
import { ShadowComparer } from './shadow-comparer.service';

/**
 * Thin: compares the sample; a comparison that must look again later is the same job moved to the
 * delayed set (so a recheck never takes a second place in the bounded queue).
 */
@Injectable()
export class ShadowProcessor implements QueueProcessor<QueueName.Shadow> {
  readonly queue = QueueName.Shadow;
  readonly concurrency: number;

  constructor(
    private readonly comparer: ShadowComparer,
    @Inject(SHADOW_CONFIG) private readonly config: ShadowConfig,
  ) {
    this.concurrency = config.workerConcurrency;
  }

  async process(job: Job<JobPayloads[QueueName.Shadow]>, token?: string): Promise<unknown> {
    const result = await this.comparer.compare(job.data);
    if (!result.recheck) return result;
    await job.updateData(result.recheck);
    await job.moveToDelayed(Date.now() + this.config.lagRecheckMs, token ?? job.token);
    throw new DelayedError();
  }
}
