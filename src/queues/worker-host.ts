/**
 * Starts one BullMQ Worker per queue this process serves and closes them on shutdown. At start-up it
 * checks that every served queue has exactly one processor, so a wiring mistake fails the boot
 * rather than leaving jobs waiting forever. Every job runs in a LogContext, so every line logged
 * while it runs (in the processor and whatever it calls) carries `queue` and `jobId`. It also reports the
 * served queues' depth (queue_jobs).
 */
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Job, Worker } from 'bullmq';
import type { LogContext } from '../common/logging/log-context';
import { queuePrefix, QueueName } from './queue-names';
import type { QueueProcessor } from './queue-processor';
import { RedisClient, redisOutages } from '../stores/redis';
import type { MetricsService } from '../common/metrics/metrics.service';
import { registerQueueDepth } from './queue-depth';

/** Whether this process's BullMQ worker of a queue is taking jobs (false before start and once closing). */
export interface QueueState {
  queue: QueueName;
  running: boolean;
}

export class WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerHost');
  private readonly workers = new Map<QueueName, Worker>();
  private closeCounters: () => Promise<void> = async () => undefined;

  constructor(
    private readonly queues: QueueName[],
    private readonly processors: QueueProcessor[],
    private readonly connection: RedisClient,
    private readonly log: LogContext,
    /** REDIS_KEY_PREFIX: each queue's keys are under queuePrefix(keyPrefix, queue). */
    private readonly keyPrefix: string,
    private readonly metrics?: MetricsService,
  ) {}

  static check(queues: QueueName[], processors: QueueProcessor[]): void {
    for (const queue of queues) {
      const handlers = processors.filter((p) => p.queue === queue);
      if (handlers.length !== 1) throw new Error(`Queue "${queue}" has ${handlers.length} processors; exactly one is required`);
    }
  }

  onApplicationBootstrap(): void {
    WorkerHost.check(this.queues, this.processors);
    for (const queue of this.queues) {
      const processor = this.processors.find((p) => p.queue === queue)!;
      const worker = new Worker(queue, (job, token) => this.inJob(queue, job, () => processor.process(job as never, token)), {
        connection: this.connection,
        prefix: queuePrefix(this.keyPrefix, queue),
        concurrency: processor.concurrency,
        autorun: true,
        ...processor.workerOptions,
      });
      worker.on('failed', (job, err) => {
        this.inJob(queue, job, () => this.logger.warn({ msg: 'job failed', attempt: job?.attemptsMade, error: err.message }));
      });
      // Connection errors belong to the process's one Redis outage line; anything else is logged as it comes.
      worker.on('error', (err) => redisOutages.report(err, (e) => this.logger.error({ msg: 'worker error', queue, error: e.message })));
      this.workers.set(queue, worker);
    }
    if (this.metrics) this.closeCounters = registerQueueDepth(this.metrics, this.queues, this.connection, this.keyPrefix);
    this.logger.log({ msg: 'serving queues', queues: this.queues });
  }

  private inJob<T>(queue: QueueName, job: Job | undefined, work: () => T): T {
    return this.log.run({ queue, jobId: job?.id }, work);
  }

  /** One entry per queue this process serves, for the worker's readiness check. */
  states(): QueueState[] {
    return this.queues.map((queue) => {
      const worker = this.workers.get(queue);
      return { queue, running: worker !== undefined && worker.closing === undefined && worker.isRunning() && !worker.isPaused() };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...[...this.workers.values()].map((w) => w.close()), this.closeCounters()]);
    // The host was handed this connection to own: without this a worker process hangs on SIGTERM.
    this.connection.disconnect();
  }
}
