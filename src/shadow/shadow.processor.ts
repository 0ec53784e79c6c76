import { Inject, Injectable, Logger } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { SHADOW_CONFIG, ShadowConfig } from './shadow.config';
import { forEachLimit } from '../common/for-each-limit';
import { QueueName } from '../queues/queue-names';
import { JobPayloads, PermanentJobError, QueueProcessor, ShadowSample } from '../queues/queue-processor';
import { CompareResult, DecidedOutcomes, ShadowComparer } from './shadow-comparer.service';

/**
 * Thin: compares the samples of a job (a few at a time) and stores their decisions together; those that
 * must be looked at again later stay in the same job, moved to the delayed set (so a recheck never takes a
 * second place in the bounded queue).
 * A sample whose comparison fails is logged and does not stop the others; the job fails with it unless
 * samples are still to be looked at again.
 */
@Injectable()
export class ShadowProcessor implements QueueProcessor<QueueName.Shadow> {
  private readonly logger = new Logger('ShadowProcessor');
  readonly queue = QueueName.Shadow;
  readonly concurrency: number;

  constructor(
    private readonly comparer: ShadowComparer,
    @Inject(SHADOW_CONFIG) private readonly config: ShadowConfig,
  ) {
    this.concurrency = config.workerConcurrency;
  }

  async process(job: Job<JobPayloads[QueueName.Shadow]>, token?: string): Promise<unknown> {
    const samples = 'samples' in job.data ? job.data.samples : [job.data];
    const results: CompareResult[] = [];
    const rechecks: ShadowSample[] = [];
    const failures: Error[] = [];
    // The job's decisions are stored together once every sample is compared (one statement for most).
    const outcomes: DecidedOutcomes = [];
    await forEachLimit(samples, this.config.workerConcurrency, async (sample) => {
      try {
        const result = await this.comparer.compare(sample, outcomes);
        results.push(result);
        if (result.recheck) rechecks.push(result.recheck);
      } catch (err) {
        failures.push(err as Error);
        this.logger.warn({ msg: 'shadow sample not compared', endpoint: sample.endpoint, id: sample.id, error: (err as Error).message });
      }
    });
    await this.comparer.recordDecided(outcomes);
    // Samples still undecided go on; if none is, a failure fails the job (visible with the failed jobs).
    if (rechecks.length === 0 && failures.length > 0) {
      const message = failures.map((e) => e.message).join('; ');
      throw failures.every((e) => e instanceof PermanentJobError) ? new PermanentJobError(message) : new Error(message);
    }
    if (rechecks.length === 0) return samples.length === 1 ? results[0] : { compared: results.length };
    await job.updateData({ samples: rechecks });
    await job.moveToDelayed(Date.now() + this.config.lagRecheckMs, token ?? job.token);
    throw new DelayedError();
  }
}
