import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { QueueName } from '../../queues/queue-names';
import type { JobPayloads, QueueProcessor } from '../../queues/queue-processor';
import { CatchupPassResult, CatchupService } from './catchup.service';

/** One catch-up pass per job; the pass itself makes sure only one runs at a time. */
@Injectable()
export class CatchupProcessor implements QueueProcessor<QueueName.Catchup> {
  readonly queue = QueueName.Catchup;
  readonly concurrency = 1;

  constructor(@Inject(CatchupService) private readonly catchup: CatchupService) {}

  async process(job: Job<JobPayloads[QueueName.Catchup]>): Promise<CatchupPassResult> {
    return this.catchup.pass(job.data?.trigger === 'manual' ? 'manual' : 'schedule');
  }
}
