import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { MetricsService } from '../common/metrics/metrics.service';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads, QueueProcessor } from '../queues/queue-processor';
import { UnrecoverableError } from 'bullmq';
import { InvalidRowError, UnreadableDocumentError } from '../model/errors';
import { RepairService } from './repair.service';

@Injectable()
export class RepairProcessor implements QueueProcessor<QueueName.Repair> {
  readonly queue = QueueName.Repair;
  readonly concurrency = 20;
  private readonly outcomes;

  constructor(
    private readonly repairs: RepairService,
    metrics: MetricsService,
  ) {
    this.outcomes = metrics.counter('repairs_total', 'Repairs by outcome (queued, outbox, done, dead, failed_to_record)', ['outcome']);
  }

  async process(job: Job<JobPayloads[QueueName.Repair]>): Promise<string> {
    const entry = { conversationId: job.data.id, source: job.data.source, reason: job.data.reason, outboxIds: job.data.outboxIds };
    try {
      const outcome = await this.repairs.settle(entry);
      this.outcomes.inc({ outcome: 'done' });
      return outcome;
    } catch (err) {
      // A record that cannot be read will not become readable by retrying: dead-letter it at once,
      // with the reason, for an operator to fix and re-drive; its outbox rows are parked meanwhile (if that
      // fails, the replayer hands them over again in a minute and this comes back here).
      if (err instanceof UnreadableDocumentError || err instanceof InvalidRowError) {
        this.outcomes.inc({ outcome: 'dead' });
        await this.repairs.park(entry).catch(() => undefined);
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) this.outcomes.inc({ outcome: 'dead' });
      throw err;
    }
  }
}
