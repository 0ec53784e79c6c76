/**
 * Settles, right after a fenced write committed, the follow-up it recorded in the outbox (legacy follows
 * the new store in deprecation; a secondary write that failed is tried again), off the request path.
 *
 * Per conversation one settle runs at a time and later follow-ups coalesce into the next run (a repair
 * copies the current state, so one run covers every row it was handed). In all at most MAX_RUNNING run at
 * once and MAX_WAITING conversations wait; beyond that a follow-up is left to the outbox replayer, which
 * hands every row no one settled to the repair queue. A failed settle leaves its rows for the same backstop.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { StoreName } from '../model/store-name';
import { RepairService } from './repair.service';

const MAX_RUNNING = 16;
const MAX_WAITING = 1000;

interface Pending {
  source: StoreName;
  reason: string;
  outboxIds: string[];
}

@Injectable()
export class OutboxFollower {
  private readonly logger = new Logger('OutboxFollower');
  /** Conversations with a settle running (value: rows to settle in the next run, if any came meanwhile). */
  private readonly running = new Map<string, Pending | null>();
  private readonly waiting = new Map<string, Pending>();
  private idle: Array<() => void> = [];

  constructor(private readonly repairs: RepairService) {}

  follow(conversationId: string, source: StoreName, reason: string, outboxIds: string[]): void {
    if (outboxIds.length === 0) return;
    if (this.running.has(conversationId)) {
      const next = this.running.get(conversationId);
      this.running.set(conversationId, merge(next ?? null, { source, reason, outboxIds }));
      return;
    }
    const queued = this.waiting.get(conversationId);
    if (queued || this.waiting.size < MAX_WAITING) this.waiting.set(conversationId, merge(queued ?? null, { source, reason, outboxIds }));
    this.pump();
  }

  /** Resolves when nothing is running or waiting (tests, shutdown). */
  drained(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running.size < MAX_RUNNING && this.waiting.size > 0) {
      const [id, pending] = this.waiting.entries().next().value as [string, Pending];
      this.waiting.delete(id);
      this.run(id, pending);
    }
    if (this.running.size === 0 && this.waiting.size === 0) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  private run(id: string, pending: Pending): void {
    this.running.set(id, null);
    void this.repairs
      .settle({ conversationId: id, ...pending })
      .catch((err: Error) => this.logger.debug({ msg: 'follow-up left to the outbox replayer', conversationId: id, error: err.message }))
      .finally(() => {
        const next = this.running.get(id);
        this.running.delete(id);
        if (next) this.run(id, next);
        else this.pump();
      });
  }
}

function merge(a: Pending | null, b: Pending): Pending {
  if (!a) return { ...b, outboxIds: [...b.outboxIds] };
  // A conversation's rows share one source within a phase; if they differ (a flip came between), the later one wins
  // and the earlier rows stay with the replayer, which settles each source's rows on their own.
  if (a.source !== b.source) return { ...b, outboxIds: [...b.outboxIds] };
  return { source: a.source, reason: a.reason, outboxIds: [...a.outboxIds, ...b.outboxIds] };
}
