/**
 * The producer side of the verify queue: one job per run (job id `run-<id>-<created>`), which a worker runs to
 * the end, and the helper jobs its worker asks for, which other workers take to walk segments of its scan.
 * Retries with back-off cover transient failures; each retry resumes from the committed state.
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

  /**
   * `count` helper jobs for the run's walk. `round` (the run's attempt) is in their ids: BullMQ keeps finished
   * jobs and would drop a new job under a finished one's id, so a holder that took the run over asks anew.
   */
  async addHelpers(runId: number, createdAt: Date, count: number, round: number): Promise<void> {
    const base = verifyJobId(runId, createdAt);
    await withTimeout(
      this.queue.addBulk(
        Array.from({ length: count }, (_, i) => ({
          name: 'verify-helper',
          data: { runId, helper: i + 1 },
          opts: { jobId: `${base}-a${round}-helper-${i + 1}`, attempts: 3 },
        })),
      ),
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
