/**
 * Hands what the outboxes hold to the repair queue: PostgreSQL's rows that no writer settled right away
 * (or whose job Redis lost), and the legacy store's fallback entries. Runs in every API and worker process;
 * the outboxes hand each entry to one drainer per pass.
 *
 * Before a pass it asks each store a repair would copy into whether it answers (`probes`): entries that copy
 * into a store that is down stay in their outbox until it is back. They are durable there, and a job handed
 * over now would only run out of attempts into the dead-letter list: with legacy down for an hour in
 * deprecation, every pass would otherwise add a dead job per waiting conversation (500 a pass at most, every
 * INTERVAL), burying the dead letters that need an operator under ones that only needed time.
 */
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { withTimeout } from '../common/timeout';
import type { StoreName } from '../model/store-name';
import type { RepairOutbox } from './repair-outbox';
import type { RepairQueue } from './repair-queue';

/** How long a store has to answer a probe before its entries are held back for the pass. */
const PROBE_TIMEOUT_MS = 2000;

/** The store a repair from `source` writes into. */
const TARGET: Record<StoreName, StoreName> = { new: 'legacy', legacy: 'new' };

export class OutboxReplayer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OutboxReplayer');
  private timer?: NodeJS.Timeout;
  private running = false;
  /** Stores found down by the last pass (logged once when they go down and once when they are back). */
  private down = new Set<StoreName>();

  constructor(
    private readonly outboxes: RepairOutbox[],
    private readonly queue: RepairQueue,
    private readonly intervalMs = 2000,
    private readonly probes: Partial<Record<StoreName, () => Promise<void>>> = {},
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
      const holdBack = await this.sourcesToHoldBack();
      for (const outbox of this.outboxes) {
        try {
          moved += await outbox.drain(
            500,
            (e) => this.queue.add({ id: e.conversationId, source: e.source, reason: `${e.reason} (from outbox)`, outboxIds: e.outboxIds }),
            holdBack,
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

  /** The sources whose repairs would write into a store that does not answer now. */
  private async sourcesToHoldBack(): Promise<StoreName[]> {
    const sources = Object.keys(TARGET) as StoreName[];
    const verdicts = await Promise.all(
      sources.map(async (source) => {
        const probe = this.probes[TARGET[source]];
        if (!probe) return false;
        return withTimeout(probe(), PROBE_TIMEOUT_MS, 'probe timed out').then(
          () => false,
          () => true,
        );
      }),
    );
    const held = sources.filter((_, i) => verdicts[i]);
    const nowDown = new Set(held.map((s) => TARGET[s]));
    for (const store of nowDown)
      if (!this.down.has(store)) this.logger.warn({ msg: 'store unreachable: its follow-ups wait in the outbox until it answers', store });
    for (const store of this.down)
      if (!nowDown.has(store)) this.logger.log({ msg: 'store answers again: its follow-ups are handed over', store });
    this.down = nowDown;
    return held;
  }
}
