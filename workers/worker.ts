/**
 * `npm run worker`: one worker process serving every queue, or those in WORKER_QUEUES.
 * Start several (on one machine or many) for more throughput; BullMQ spreads the jobs.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { configOrExit } from '../src/bootstrap';
import { JsonLogger } from '../src/common/logger';
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
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, queues), {
    logger: new JsonLogger(config.app.logLevel),
    abortOnError: false,
  });
  app.enableShutdownHooks();
  await app.init();
  app.get(WorkerHost);
}

main().catch((err) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'worker failed to start', err: String(err?.stack ?? err) })}\n`);
  process.exit(1);
});
