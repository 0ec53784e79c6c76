/**
 * The producer side of the verify queue: one job per run (job id `run-<id>`), which a worker runs to the
 * end. Retries with back-off cover transient failures; each retry resumes the run from its checkpoint.
 */
import type { RedisClient } from '../stores/redis';
import { withTimeout } from '../common/timeout';
import { ensureLiveJob } from '../queues/live-job';
import { QueueName } from '../queues/queue-names';
import { QueueProducer } from '../queues/queue-producer';

const ADD_TIMEOUT_MS = 2000;

const verifyJobId = (runId: number, createdAt: Date) => `run-${runId}-${createdAt.getTime()}`;

export class VerifyQueue extends QueueProducer<QueueName.Verify> {
  /** The queue owns `connection` and closes it with itself. */
  constructor(connection: RedisClient, keyPrefix: string) {
    super(QueueName.Verify, connection, {
      keyPrefix,
      ownsConnection: true,
      defaultJobOptions: {
        attempts: 8,
        backoff: { type: 'exponential', delay: 5000 },
        removeOnComplete: { age: 7 * 86400, count: 1000 },
        removeOnFail: { age: 30 * 86400 },
      },
    });
  }

  /**
   * Fails within ADD_TIMEOUT_MS when Redis is unreachable, rather than holding the request. The job id
   * carries the run's creation time as well as its id: run ids restart when a database is recreated
   * while Redis keeps finished jobs, and BullMQ silently drops a job whose id it already holds.
   */
  async add(runId: number, createdAt: Date): Promise<void> {
    await withTimeout(
      this.queue.add('verify', { runId }, { jobId: verifyJobId(runId, createdAt) }),
      ADD_TIMEOUT_MS,
      () => `the verify queue did not answer within ${ADD_TIMEOUT_MS} ms (Redis ${this.connection.status})`,
    );
  }

  /** Makes sure the run's job is live (see ensureLiveJob); true when it was (re)queued. */
  async ensure(runId: number, createdAt: Date): Promise<boolean> {
    const jobId = verifyJobId(runId, createdAt);
    return ensureLiveJob(this.queue, jobId, () => this.queue.add('verify', { runId }, { jobId }));
  }

  /** Worker processes currently connected to this queue. */
  async workerCount(): Promise<number> {
    return (await this.queue.getWorkers()).length;
  }
}
