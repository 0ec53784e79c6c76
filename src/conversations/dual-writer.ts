/**
 * Writes one new state of a conversation inside a fenced write (src/mode/write-fence.ts): the source of
 * truth decides, and whatever the other store still needs is either done in the same transaction or
 * recorded in it, so it exists exactly when the write committed.
 *
 * Legacy is the source of truth (`not_started` .. `rollout`): its insert / compare-and-set acknowledges the
 * write. In dual-write phases the new store's copy is written at the same time in the fence's transaction,
 * behind a savepoint and version-guarded, and bounded by SECONDARY_WRITE_TIMEOUT_MS (as a statement timeout):
 * - legacy took it and so did PostgreSQL: both commit together;
 * - legacy took it, PostgreSQL did not (timeout, error): the copy is rolled back to the savepoint and a
 *   repair (legacy -> new) is recorded in the same transaction;
 * - legacy refused it (lost the compare-and-set) or failed: the copy is rolled back, so the new store never
 *   holds a version the source of truth did not take; a failure also records a repair, since the legacy
 *   write may have landed after all.
 * The new store is the source of truth (`deprecation` ..): its compare-and-set runs in the fence's
 * transaction; in `deprecation` the legacy follow-up is recorded there too and applied after the commit,
 * off the request path (OutboxFollower, with the outbox replayer and the repair queue as backstop).
 * Every store write is shaped (WriteShape): an append writes one message and bumps the version, in either
 * store, so its cost does not grow with the conversation.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DUAL_WRITE_CONFIG, DualWriteConfig } from '../mode/dual-write.config';
import { StoreRefusedError } from '../common/errors';
import { MetricsService } from '../common/metrics/metrics.service';
import type { FencedWrite } from '../mode/write-fence';
import { POSTGRES_OUTBOX } from '../repair/repair.service';
import type { PostgresRepairOutbox } from '../repair/repair-outbox';
import type { WrittenChange } from '../repair/follow-plan';
import { ConversationStore, LEGACY_STORE, NEW_STORE, TransactionalStore, WriteShape } from '../stores/conversation-store.port';
import { StoreName } from '../model/store-name';
import type { Conversation, ConversationHead, Message } from '../model/conversation.model';

/** What one fenced write did. */
export type WriteOutcome =
  | { kind: 'written'; followUp: FollowUp | null }
  | { kind: 'lost' }
  /** The source of truth's write failed; it may or may not have landed. Not acknowledged. */
  | { kind: 'failed'; error: unknown; followUp: FollowUp | null };

/** Outbox rows recorded by a write, to settle once it has committed. */
export interface FollowUp {
  source: StoreName;
  reason: string;
  outboxIds: string[];
  /** The write itself, when the other store can follow it by applying just that change (see OutboxFollower). */
  change?: WrittenChange;
}

@Injectable()
export class DualWriter {
  private readonly latency;
  private readonly secondaryFailures;

  constructor(
    @Inject(LEGACY_STORE) private readonly legacy: ConversationStore,
    @Inject(NEW_STORE) private readonly newStore: TransactionalStore,
    @Inject(POSTGRES_OUTBOX) private readonly outbox: PostgresRepairOutbox,
    @Inject(DUAL_WRITE_CONFIG) private readonly config: DualWriteConfig,
    metrics: MetricsService,
  ) {
    this.latency = metrics.histogram(
      'store_write_duration_seconds',
      'Write latency per store and role',
      ['store', 'role', 'outcome'],
      [0.001, 0.0015, 0.0025, 0.004, 0.006, 0.01, 0.015, 0.025, 0.04, 0.06, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
    );
    this.secondaryFailures = metrics.counter('secondary_write_failures_total', 'Secondary writes that failed, timed out or were stale', [
      'store',
      'reason',
    ]);
  }

  store(name: StoreName): ConversationStore {
    return name === 'legacy' ? this.legacy : this.newStore;
  }

  /** The new store's head of the conversation (see ConversationHead), read under the fence through its transaction. */
  readHead(w: FencedWrite, id: string): Promise<ConversationHead | null> {
    return this.newStore.head(id, w.q);
  }

  /** The source of truth's current state, read under the fence (through its transaction for the new store). */
  read(w: FencedWrite, id: string): Promise<Conversation | null> {
    return w.mode.sourceOfTruth === 'new' ? this.newStore.get(id, w.q) : this.legacy.get(id);
  }

  /**
   * Refuses, before anything is written, a conversation a store this phase writes could not hold: legacy is
   * written in every phase until cleanup (as the source of truth, or as the follower that must not fail later).
   */
  async refuseUnstorable({ mode }: FencedWrite, next: Pick<Conversation, 'metadata'>): Promise<void> {
    if (mode.sourceOfTruth !== 'legacy' && !mode.dualWrite) return;
    const refusal = await this.legacy.refusal(next);
    if (refusal) throw new StoreRefusedError('legacy', refusal.field, refusal.reason);
  }

  /** Writes `next`; `expectedVersion` null means create; `shape` says what changed from that version. */
  async write(w: FencedWrite, next: Conversation, expectedVersion: number | null, shape: WriteShape = 'replace'): Promise<WriteOutcome> {
    return w.mode.sourceOfTruth === 'new'
      ? this.writeNewPrimary(w, next, expectedVersion, shape)
      : this.writeLegacyPrimary(w, next, expectedVersion, shape);
  }

  /**
   * An append made on the conversation's head, where the new store is the source of truth (the caller checks): its
   * version-and-count guarded row update and message insert, and in `deprecation` the legacy follow-up recorded in
   * the same statement, as writeNewPrimary records it.
   */
  async appendAfterHead(w: FencedWrite, next: ConversationHead, message: Message, expectedVersion: number): Promise<WriteOutcome> {
    if (w.mode.sourceOfTruth !== 'new') throw new Error('an append on a head is made only where the new store is the source of truth');
    const record = w.mode.dualWrite ? ({ source: 'new', reason: 'legacy follows the source of truth' } as const) : null;
    const { wrote, outboxId } = await this.timed('new', 'primary', () =>
      this.newStore.appendAfter(next, message, expectedVersion, record, w.q),
    );
    if (!wrote) return { kind: 'lost' };
    if (!record || outboxId === null) return { kind: 'written', followUp: null };
    const change = { head: next, appended: message, from: expectedVersion, shape: 'append' } as const;
    return { kind: 'written', followUp: { ...record, outboxIds: [outboxId], change } };
  }

  private async writeNewPrimary(
    { mode, q }: FencedWrite,
    next: Conversation,
    expectedVersion: number | null,
    shape: WriteShape,
  ): Promise<WriteOutcome> {
    if (mode.dualWrite) {
      // Legacy follows: the follow-up row goes in the write's own statement (one round trip, not two).
      const record = { source: 'new', reason: 'legacy follows the source of truth' } as const;
      const outboxId = await this.timed('new', 'primary', () => this.newStore.writeRecorded(next, expectedVersion, shape, record, q));
      if (outboxId === null) return { kind: 'lost' };
      return { kind: 'written', followUp: { ...record, outboxIds: [outboxId], change: { next, from: expectedVersion, shape } } };
    }
    const won = await this.timed('new', 'primary', () =>
      expectedVersion === null ? this.newStore.insertNew(next, q) : this.newStore.update(next, expectedVersion, shape, q),
    );
    return won ? { kind: 'written', followUp: null } : { kind: 'lost' };
  }

  private async writeLegacyPrimary(
    { mode, q }: FencedWrite,
    next: Conversation,
    expectedVersion: number | null,
    shape: WriteShape,
  ): Promise<WriteOutcome> {
    const primary = this.timed('legacy', 'primary', () =>
      expectedVersion === null ? this.legacy.insertNew(next) : this.legacy.update(next, expectedVersion, shape),
    );
    if (!mode.dualWrite) {
      try {
        return (await primary) ? { kind: 'written', followUp: null } : { kind: 'lost' };
      } catch (error) {
        // Nothing keeps the new store in step in this phase: there is no follow-up to record.
        return { kind: 'failed', error, followUp: null };
      }
    }
    // The timeout and the savepoint go first, in one round trip on the fence's connection, while the legacy write
    // is under way.
    const secondary = (async () => {
      await q.query(`SET LOCAL statement_timeout = ${this.config.secondaryTimeoutMs}; SAVEPOINT secondary`);
      return this.timed('new', 'secondary', () =>
        expectedVersion === null ? this.newStore.putIfNewer(next, q) : this.newStore.follow(next, expectedVersion, shape, q),
      );
    })();
    const [p, s] = await Promise.allSettled([primary, secondary]);
    if (p.status === 'fulfilled' && p.value && s.status === 'fulfilled') {
      // Kept: the fence's COMMIT commits the savepoint's work with the rest (no RELEASE, one round trip less).
      // 'stale': a later version legacy took is already there (its writer committed first); nothing to do.
      if (s.value === 'stale') this.secondaryFailures.inc({ store: 'new', reason: 'stale' });
      return { kind: 'written', followUp: null };
    }
    // Whatever the new store took in this attempt goes: it keeps only versions legacy acknowledged.
    await q.query('ROLLBACK TO SAVEPOINT secondary');
    // A refusal is known not to have landed: nothing to follow up.
    if (p.status === 'rejected' && p.reason instanceof StoreRefusedError) return { kind: 'failed', error: p.reason, followUp: null };
    if (p.status === 'rejected')
      return {
        kind: 'failed',
        error: p.reason,
        followUp: await this.record(q, next.id, 'legacy', 'legacy write failed; it may have landed'),
      };
    if (!p.value) return { kind: 'lost' };
    const reason = isStatementTimeout((s as PromiseRejectedResult).reason) ? 'timeout' : 'error';
    this.secondaryFailures.inc({ store: 'new', reason });
    return {
      kind: 'written',
      followUp: await this.record(q, next.id, 'legacy', reason === 'timeout' ? 'secondary write timed out' : 'secondary write failed'),
    };
  }

  private async record(q: FencedWrite['q'], id: string, source: StoreName, reason: string): Promise<FollowUp> {
    return { source, reason, outboxIds: [await this.outbox.addIn(q, { conversationId: id, source, reason })] };
  }

  private async timed<T>(store: StoreName, role: 'primary' | 'secondary', fn: () => Promise<T>): Promise<T> {
    const end = this.latency.startTimer({ store, role });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
}

/** PostgreSQL's query_canceled (57014): here, the secondary's statement timeout. */
function isStatementTimeout(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  return e?.code === '57014' || e?.driverError?.code === '57014';
}
