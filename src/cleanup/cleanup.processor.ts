import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads, QueueProcessor } from '../queues/queue-processor';
import { CleanupService } from './cleanup.service';

@Injectable()
export class CleanupProcessor implements QueueProcessor<QueueName.Cleanup> {
  readonly queue = QueueName.Cleanup;
  readonly concurrency = 1;
  /** Archiving a large collection takes long: the lock is renewed; a dead worker's job is picked up in ~1 min. */
  readonly workerOptions = { lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 3 };

  constructor(private readonly cleanup: CleanupService) {}

  async process(job: Job<JobPayloads[QueueName.Cleanup]>): Promise<unknown> {
    const run = await this.cleanup.runArchive(job.data.archiveId);
    return { id: run.id, state: run.state };
  }
}
