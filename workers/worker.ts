/**
 * `npm run worker`: one worker process serving every queue, or those in WORKER_QUEUES.
 * Start several (on one machine or many) for more throughput; BullMQ spreads the jobs.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { configOrExit } from '../src/bootstrap';
import { nestLogger } from '../src/common/logging/logging.module';
import { createRootLogger } from '../src/common/logging/root-logger';
import { resolveQueues, UnknownQueueError } from '../src/queues/queue-names';
import { WorkerHost } from '../src/queues/worker-host';
import { WorkerModule } from '../src/worker.module';

async function main(): Promise<void> {
  const config = configOrExit();
  let queues;
  try {
    queues = resolveQueues(config.workers.queues);
  } catch (err) {
    if (err instanceof UnknownQueueError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createRootLogger({ level: config.app.logLevel });
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, queues, log), {
    logger: nestLogger(log),
    abortOnError: false,
  });
  app.enableShutdownHooks();
  await app.init();
  app.get(WorkerHost);
}

main().catch((err) => {
  createRootLogger({ level: 'error', stream: 'stderr' }).error({ err }, 'worker failed to start');
  process.exit(1);
});
