import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { Job, UnrecoverableError, WaitingError } from 'bullmq';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads, QueueProcessor } from '../queues/queue-processor';
import { RunInterruptedError } from './run-context';
import { LostClaimError } from './verify-run.repository';
import { VerifyRunner } from './verify.runner';

/** How long a shutting-down worker waits for its run to reach a checkpoint. */
const SHUTDOWN_GRACE_MS = 30_000;

@Injectable()
export class VerifyProcessor implements QueueProcessor<QueueName.Verify>, BeforeApplicationShutdown {
  readonly queue = QueueName.Verify;
  /**
   * One job at a time per process: a run's walk or a helper's segments, each a long sequential walk. Another
   * process's worker helps with a run's walk; the run's own worker walks every segment nobody else takes.
   */
  readonly concurrency = 1;
  /** A run outlives many lock periods; a worker killed more than once must not make BullMQ fail it. */
  readonly workerOptions = { maxStalledCount: 20 };

  constructor(private readonly runner: VerifyRunner) {}

  async process(job: Job<JobPayloads[QueueName.Verify]>, token?: string): Promise<unknown> {
    const runId = job.data?.runId;
    const helper = job.data?.helper;
    if (!Number.isSafeInteger(runId) || runId < 1 || (helper !== undefined && !Number.isSafeInteger(helper)))
      throw new UnrecoverableError(`bad verify payload: ${JSON.stringify(job.data)}`);
    try {
      if (helper !== undefined) return { runId, helper, segmentsWalked: await this.runner.help(runId) };
      const run = await this.runner.run(runId, { finalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) });
      return run && { runId, status: run.status, missing: run.missing, extra: run.extra, different: run.different, repaired: run.repaired };
    } catch (err) {
      if (err instanceof LostClaimError) return { runId, status: 'taken over by another worker' };
      const lock = token ?? job.token;
      // Shutdown: hand the job back without spending an attempt; the next worker resumes the run.
      if (err instanceof RunInterruptedError && lock) {
        await job.moveToWait(lock);
        throw new WaitingError();
      }
      throw err;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.runner.beginShutdown();
    await this.runner.settled(SHUTDOWN_GRACE_MS);
  }
}
