/** The producer side of the `cleanup` queue: one job per archive run, its id the run's. */
import type { RedisClient } from '../stores/redis';
import { ensureLiveJob } from '../queues/live-job';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads } from '../queues/queue-processor';
import { QueueProducer } from '../queues/queue-producer';

const archiveJobId = (archiveId: number, requestedAt: string) => `archive-${archiveId}-${Date.parse(requestedAt)}`;

export type CleanupPayload = JobPayloads[QueueName.Cleanup];

export class CleanupQueue extends QueueProducer<QueueName.Cleanup> {
  /** `connection` is shared; the owner closes it. */
  constructor(connection: RedisClient, keyPrefix: string) {
    super(QueueName.Cleanup, connection, {
      keyPrefix,
      ownsConnection: false,
      // A worker that dies mid-archive leaves a stalled job that another worker starts again.
      defaultJobOptions: {
        attempts: 3,
        backoff: { type: 'exponential', delay: 5000 },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    });
  }

  /** The id carries the request time: run ids restart with a new database while Redis keeps old jobs. */
  async enqueue(archiveId: number, requestedAt: string): Promise<void> {
    await this.queue.add('archive', { archiveId }, { jobId: archiveJobId(archiveId, requestedAt) });
  }

  /** Makes sure the run's job is live (see ensureLiveJob); true when it was (re)queued. */
  async ensure(archiveId: number, requestedAt: string): Promise<boolean> {
    const jobId = archiveJobId(archiveId, requestedAt);
    return ensureLiveJob(this.queue, jobId, () => this.queue.add('archive', { archiveId }, { jobId }));
  }
}
