/**
 * Records that one conversation may differ between the stores. First choice is the repair queue;
 * when Redis does not answer, the entry goes to the durable outbox in the source of truth (which has
 * just acknowledged a write, so it is up). A divergence is never only in memory.
 */
import { Injectable, Logger } from '@nestjs/common';
import { MetricsService } from '../common/metrics/metrics.service';
import type { StoreName } from '../model/store-name';
import type { RepairOutbox } from './repair-outbox';
import { RepairQueue } from './repair-queue';

@Injectable()
export class RepairRecorder {
  private readonly logger = new Logger('RepairRecorder');
  private readonly recorded;

  constructor(
    private readonly queue: RepairQueue,
    private readonly outboxes: Record<StoreName, RepairOutbox>,
    metrics: MetricsService,
  ) {
    this.recorded = metrics.counter('repairs_total', 'Repairs by outcome (queued, outbox, done, dead, failed_to_record)', ['outcome']);
  }

  async record(id: string, source: StoreName, reason: string): Promise<void> {
    try {
      await this.queue.add({ id, source, reason });
      this.recorded.inc({ outcome: 'queued' });
      return;
    } catch (err) {
      this.logger.warn({
        msg: 'repair queue unavailable, writing to outbox',
        conversationId: id,
        store: source,
        error: (err as Error).message,
      });
    }
    try {
      await this.outboxes[source].add({ conversationId: id, source, reason });
      this.recorded.inc({ outcome: 'outbox' });
    } catch (err) {
      // Both Redis and the source of truth refused: the next verification run still finds the difference.
      this.recorded.inc({ outcome: 'failed_to_record' });
      this.logger.error({ msg: 'divergence could not be recorded', conversationId: id, error: (err as Error).message });
    }
  }
}
