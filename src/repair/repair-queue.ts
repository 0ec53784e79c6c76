/**
 * The producer side of the repair queue. Jobs retry with exponential back-off and, once out of
 * attempts, stay in BullMQ's failed set: that set is the dead-letter list operators list and re-drive.
 * The producer's connection fails fast (no offline queue) so a Redis outage costs a request at most
 * ADD_TIMEOUT_MS before the divergence goes to the durable outbox instead.
 */
import type { Job } from 'bullmq';
import type { RedisClient } from '../stores/redis';
import { withTimeout } from '../common/timeout';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads } from '../queues/queue-processor';
import { QueueProducer } from '../queues/queue-producer';

export type RepairPayload = JobPayloads[QueueName.Repair];

const ADD_TIMEOUT_MS = 500;

export interface DeadRepair {
  jobId: string;
  conversationId: string;
  reason: string;
  failedReason: string;
  attempts: number;
  finishedAt: string | null;
}

export class RepairQueue extends QueueProducer<QueueName.Repair> {
  /** The queue owns `connection` and closes it with itself. */
  constructor(connection: RedisClient, keyPrefix: string, retry: { attempts: number; backoffMs: number }) {
    super(QueueName.Repair, connection, {
      keyPrefix,
      ownsConnection: true,
      defaultJobOptions: {
        attempts: retry.attempts,
        backoff: { type: 'exponential', delay: retry.backoffMs },
        removeOnComplete: { age: 3600, count: 10000 },
        removeOnFail: false,
      },
    });
  }

  /**
   * Every divergence gets its own job (no jobId de-duplication: BullMQ would also drop a new job whose
   * id matches a completed one, losing a later divergence). Extra repairs are cheap and idempotent.
   */
  async add(payload: RepairPayload): Promise<void> {
    // BullMQ would hold the job until Redis is back; a request must not wait, and a divergence must
    // not live only in this process's memory. Fail at once so the caller uses the durable outbox.
    if (this.connection.status !== 'ready') throw new Error(`repair queue unavailable (Redis connection ${this.connection.status})`);
    await withTimeout(this.queue.add('repair', payload), ADD_TIMEOUT_MS, `repair queue did not answer within ${ADD_TIMEOUT_MS} ms`);
  }

  async dead(start = 0, end = 99): Promise<DeadRepair[]> {
    const jobs = await this.queue.getFailed(start, end);
    return jobs.map((j: Job<RepairPayload>) => ({
      jobId: j.id ?? '',
      conversationId: j.data.id,
      reason: j.data.reason,
      failedReason: j.failedReason,
      attempts: j.attemptsMade,
      finishedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
    }));
  }

  /** Puts every dead job back in line (with a fresh set of attempts). */
  async redriveDead(): Promise<number> {
    const jobs = await this.queue.getFailed(0, -1);
    for (const job of jobs) await job.retry('failed', { resetAttemptsMade: true });
    return jobs.length;
  }

  /** Jobs not finished yet: waiting, running, or waiting out a back-off. */
  async pending(): Promise<number> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
  }
}
