/**
 * Settles, right after a fenced write committed, the follow-up it recorded in the outbox (legacy follows the
 * new store in deprecation; a secondary write that failed is tried again), off the request path.
 *
 * Design:
 * - Per conversation one settle runs at a time; follow-ups that arrive meanwhile wait and coalesce with the
 *   next (their writes in order, their rows together): one settle covers every row it was handed.
 * - A follow-up that carries its writes (WrittenChange, in the order this process acknowledged them) is
 *   settled by applying them to legacy; conversations ready within GATHER_MS of each other go together, in one
 *   fenced transaction and one request to legacy (RepairService.followChanges). So under load the work per write
 *   shrinks: the more writes wait, the fewer transactions and requests carry them, like a group commit. A
 *   follow-up is ready FOLLOW_UP_DELAY_MS after its conversation's first unsettled write: the writes of a busy
 *   conversation meanwhile are applied as one store write (a chat appends in bursts), and legacy lags by about
 *   that much.
 * - What cannot be applied as changes (another replica wrote in between, a flip came, no changes known) is
 *   repaired (RepairService.settle), which copies the whole conversation.
 * - Settles run in fenced transactions on the follow-ups' own PostgreSQL connections (FollowUpRepairs), never on
 *   the requests' pool: a legacy store that hangs holds only those. At most MAX_BATCHES batches and as many repairs
 *   as those connections leave (MAX_REPAIRS at most) run at once, and MAX_WAITING conversations wait;
 *   beyond that a follow-up is left to the outbox replayer, which hands every row no one settled to the
 *   repair queue. A failed settle (legacy down) leaves its rows for the same backstop: they are durable.
 */
import { Logger, OnApplicationShutdown } from '@nestjs/common';
import type { RepairConfig } from './repair.config';
import type { StoreName } from '../model/store-name';
import type { WrittenChange } from './follow-plan';
import type { FollowEntry } from './repair.service';
import type { FollowUpRepairPort } from './follow-up-repairs';

const MAX_BATCHES = 2;
const BATCH_SIZE = 64;
const MAX_REPAIRS = 8;
const MAX_WAITING = 1000;
/**
 * At most this long (and a tenth of FOLLOW_UP_DELAY_MS) after a follow-up is due, the follow-ups due by then go
 * together: under a steady stream of writes one batch, one transaction, carries every write of that span, where
 * a pump per write would make a batch of one or two.
 */
const GATHER_MS = 50;
/** A conversation with more unsettled writes than this is repaired (one copy) rather than followed write by write. */
const MAX_CHANGES = 100;

interface Pending {
  /** When the first of these writes was recorded (they are applied FOLLOW_UP_DELAY_MS later at the earliest). */
  since: number;
  source: StoreName;
  reason: string;
  outboxIds: string[];
  /** The writes, in order; null once one is unknown (then only a repair settles it). */
  changes: WrittenChange[] | null;
}

export class OutboxFollower implements OnApplicationShutdown {
  private readonly logger = new Logger('OutboxFollower');
  /** Conversations with a settle in flight (value: what arrived meanwhile, settled next). */
  private readonly running = new Map<string, Pending | null>();
  /** Ready to be followed (in arrival order), and ready to be repaired. */
  private readonly waiting = new Map<string, Pending>();
  private readonly toRepair = new Map<string, Pending>();
  private batches = 0;
  private repairs = 0;
  /** Repairs at once: what the follow-ups' connections leave after the batches, at most MAX_REPAIRS. */
  private readonly maxRepairs: number;
  private idle: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly delayMs: number;
  /** How long after the first of them is due the timer takes the follow-ups due by then. */
  private readonly gatherMs: number;

  /** `followConnections`: the size of the follow-ups' pool (DATABASE_FOLLOW_POOL_SIZE). */
  constructor(
    private readonly repairService: FollowUpRepairPort,
    config: Pick<RepairConfig, 'followUpDelayMs'> & { followConnections?: number },
  ) {
    this.delayMs = config.followUpDelayMs;
    this.gatherMs = Math.max(1, Math.min(GATHER_MS, Math.round(this.delayMs / 10)));
    this.maxRepairs = Math.max(1, Math.min(MAX_REPAIRS, (config.followConnections ?? MAX_BATCHES + MAX_REPAIRS) - MAX_BATCHES));
  }

  onApplicationShutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  follow(conversationId: string, source: StoreName, reason: string, outboxIds: string[], change?: WrittenChange): void {
    if (outboxIds.length === 0) return;
    const p: Pending = { since: Date.now(), source, reason, outboxIds, changes: change ? [change] : null };
    if (this.running.has(conversationId)) {
      this.running.set(conversationId, merge(this.running.get(conversationId) ?? null, p));
      return;
    }
    const queued = this.waiting.get(conversationId) ?? this.toRepair.get(conversationId);
    if (!queued && this.waiting.size + this.toRepair.size >= MAX_WAITING) return;
    this.enqueue(conversationId, merge(queued ?? null, p));
    // Its follow-up is due later: the timer pumps then, with whatever else came due by that time.
    if (this.timer && this.waiting.has(conversationId) && this.delayMs > 0) return;
    this.pump();
  }

  /** Resolves when nothing is running or waiting (tests, shutdown). */
  drained(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private isIdle(): boolean {
    return this.running.size === 0 && this.waiting.size === 0 && this.toRepair.size === 0;
  }

  private enqueue(id: string, p: Pending): void {
    this.waiting.delete(id);
    this.toRepair.delete(id);
    if (p.changes) this.waiting.set(id, p);
    else this.toRepair.set(id, p);
  }

  private pump(): void {
    const due = Date.now() - this.delayMs;
    let next = Infinity;
    while (this.batches < MAX_BATCHES && this.waiting.size > 0) {
      const batch: Array<[string, Pending]> = [];
      for (const [id, p] of this.waiting) {
        if (p.since > due) {
          next = Math.min(next, p.since);
          continue;
        }
        batch.push([id, p]);
        if (batch.length >= BATCH_SIZE) break;
      }
      if (batch.length === 0) break;
      for (const [id] of batch) {
        this.waiting.delete(id);
        this.running.set(id, null);
      }
      this.runBatch(batch);
    }
    while (this.repairs < this.maxRepairs && this.toRepair.size > 0) {
      const [id, p] = this.toRepair.entries().next().value as [string, Pending];
      this.toRepair.delete(id);
      this.running.set(id, null);
      this.runRepair(id, p);
    }
    // Waiting for the delay to pass: come back when the first of them is due, and a little later, so that one batch
    // takes what came due meanwhile rather than a batch (a transaction) per write.
    if (next !== Infinity && !this.timer) {
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.pump();
        },
        Math.max(0, next + this.delayMs - Date.now()) + this.gatherMs,
      );
      this.timer.unref();
    }
    if (this.isIdle()) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  private runBatch(batch: Array<[string, Pending]>): void {
    this.batches++;
    const entries: FollowEntry[] = batch.map(([id, p]) => ({
      entry: { conversationId: id, source: p.source, reason: p.reason, outboxIds: p.outboxIds },
      changes: p.changes,
    }));
    void this.repairService
      .followChanges(entries)
      .then(
        (outcomes) => outcomes,
        (err: Error) => {
          this.logger.debug({ msg: 'follow-ups left to the outbox replayer', conversations: batch.length, error: err.message });
          return batch.map(() => 'failed' as const);
        },
      )
      .then((outcomes) => {
        this.batches--;
        batch.forEach(([id, p], i) => {
          // A repair copies the current state: it settles these rows and whatever came meanwhile.
          if (outcomes[i] === 'repair') this.running.set(id, merge({ ...p, changes: null }, this.running.get(id) ?? null));
          this.next(id);
        });
        this.pump();
      });
  }

  private runRepair(id: string, p: Pending): void {
    this.repairs++;
    void this.repairService
      .settle({ conversationId: id, source: p.source, reason: p.reason, outboxIds: p.outboxIds })
      .catch((err: Error) => this.logger.debug({ msg: 'follow-up left to the outbox replayer', conversationId: id, error: err.message }))
      .finally(() => {
        this.repairs--;
        this.next(id);
        this.pump();
      });
  }

  /** The settle of `id` ended: what arrived meanwhile (or a repair it still needs) waits its turn. */
  private next(id: string): void {
    const next = this.running.get(id);
    this.running.delete(id);
    if (next) this.enqueue(id, next);
  }
}

function merge(a: Pending | null, b: Pending | null): Pending {
  if (!a) return { ...b!, outboxIds: [...b!.outboxIds] };
  if (!b) return { ...a, outboxIds: [...a.outboxIds] };
  // A conversation's rows share one source within a phase; if they differ (a flip came between), the later one wins
  // and the earlier rows stay with the replayer, which settles each source's rows on their own.
  if (a.source !== b.source) return { ...b, outboxIds: [...b.outboxIds] };
  const changes = a.changes && b.changes && a.changes.length + b.changes.length <= MAX_CHANGES ? [...a.changes, ...b.changes] : null;
  return { since: Math.min(a.since, b.since), source: a.source, reason: a.reason, outboxIds: [...a.outboxIds, ...b.outboxIds], changes };
}
