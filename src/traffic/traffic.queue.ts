/**
 * The producer side of the `traffic` queue. One job per intent, with the intent's id as the job id, so
 * enqueueing the same intent twice (a request and a start-up recovery) runs it once.
 */
import type { RedisClient } from '../stores/redis';
import { ensureLiveJob } from '../queues/live-job';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads } from '../queues/queue-processor';
import { QueueProducer } from '../queues/queue-producer';

export type TrafficPayload = JobPayloads[QueueName.Traffic];

/** The id carries the request time: change ids restart with a new database while Redis keeps old jobs. */
export const trafficJobId = (changeId: number, requestedAt: string) => `change-${changeId}-${Date.parse(requestedAt)}`;

export class TrafficQueue extends QueueProducer<QueueName.Traffic> {
  /** `connection` is shared; the owner closes it. */
  constructor(connection: RedisClient, keyPrefix: string) {
    super(QueueName.Traffic, connection, {
      keyPrefix,
      ownsConnection: false,
      // The router retries what is worth retrying; a failed attempt is recorded in the intent log.
      defaultJobOptions: { attempts: 1, removeOnComplete: { count: 500 }, removeOnFail: { count: 500 } },
    });
  }

  /** Adds the intent's job unless one is waiting or running (see ensureLiveJob); true when it (re)queued it. */
  async enqueue(changeId: number, requestedAt: string): Promise<boolean> {
    const jobId = trafficJobId(changeId, requestedAt);
    return ensureLiveJob(this.queue, jobId, () => this.queue.add('change', { changeId }, { jobId }));
  }
}
