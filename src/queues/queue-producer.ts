/**
 * The producer side every queue shares: a BullMQ Queue of that name under the service's prefix, with its
 * payload type tied to the name (JobPayloads), an error listener (errors surface on the calls themselves;
 * without a listener ioredis would print every reconnect attempt), and close. Each producer adds only what
 * is its own: job options, job ids, and how it adds.
 */
import { DefaultJobOptions, Queue } from 'bullmq';
import type { RedisClient } from '../stores/redis';
import { queuePrefix, QueueName } from './queue-names';
import type { JobPayloads } from './queue-processor';

export interface ProducerOptions {
  defaultJobOptions: DefaultJobOptions;
  /** A producer that owns its connection disconnects it on close; a shared one is its owner's to close. */
  ownsConnection: boolean;
  /** REDIS_KEY_PREFIX: the queue's keys are under queuePrefix(keyPrefix, name). */
  keyPrefix: string;
}

export abstract class QueueProducer<Q extends QueueName> {
  readonly queue: Queue<JobPayloads[Q]>;
  protected readonly prefix: string;

  protected constructor(
    name: Q,
    protected readonly connection: RedisClient,
    private readonly options: ProducerOptions,
  ) {
    this.prefix = queuePrefix(options.keyPrefix, name);
    this.queue = new Queue<JobPayloads[Q]>(name, { connection, prefix: this.prefix, defaultJobOptions: options.defaultJobOptions });
    this.queue.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    if (this.options.ownsConnection) this.connection.disconnect();
  }
}
