/**
 * Hands what the outboxes hold to the repair queue: PostgreSQL's rows that no writer settled right away
 * (or whose job Redis lost), and the legacy store's fallback entries. Runs in every API and worker process;
 * the outboxes hand each entry to one drainer per pass.
 */
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { RepairOutbox } from './repair-outbox';
import type { RepairQueue } from './repair-queue';

export class OutboxReplayer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OutboxReplayer');
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly outboxes: RepairOutbox[],
    private readonly queue: RepairQueue,
    private readonly intervalMs = 2000,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.replayOnce(), this.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass over every outbox; returns how many entries reached the queue. */
  async replayOnce(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let moved = 0;
    try {
      for (const outbox of this.outboxes) {
        try {
          moved += await outbox.drain(500, (e) =>
            this.queue.add({ id: e.conversationId, source: e.source, reason: `${e.reason} (from outbox)`, outboxIds: e.outboxIds }),
          );
        } catch (err) {
          // Redis or that store is still down: the entries stay where they are for the next pass.
          this.logger.debug({ msg: 'outbox not drained', store: outbox.store, error: (err as Error).message });
        }
      }
      if (moved > 0) this.logger.log({ msg: 'outbox entries queued for repair', count: moved });
    } finally {
      this.running = false;
    }
    return moved;
  }
}
