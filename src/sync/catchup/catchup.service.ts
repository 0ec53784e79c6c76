/**
 * Catch-up: copies what the legacy application changed since the watermark, under the same version
 * guard as the backfill (an older copy never overwrites a newer one), dead-lettering what it cannot read.
 *
 * Two cursors, one pass:
 * - changes: documents by (`updated`, `_id`) from the watermark minus an overlap window, so a write that
 *   became visible late (or carries a slightly skewed clock) within the window is still seen. Each batch
 *   advances the watermark in the batch's own transaction; a pass that reaches the end sets it to the
 *   pass's start time, so the lag (now minus watermark) measures real staleness, not quiet time.
 * - inserts: documents without `updated` are never modified ones, the backfill's; but those inserted
 *   after the backfill split the `_id` space are in no range. Catch-up copies every `_id` above the
 *   run's `max_id` (minus the same overlap, as ObjectIds carry their creation second). While no
 *   backfill was ever started, every `_id` from the catch-up's own start: a conversation the legacy
 *   application inserts is then in the catch-up's hands from the first pass, and a flip carries it.
 * A pass holds a PostgreSQL advisory lock, so scheduled, manual and cutover passes never run at once; a crashed
 * worker's lock goes with its connection. Watermarks only move forward (guarded in SQL).
 */
import { Logger } from '@nestjs/common';
import { DataSource, QueryRunner } from 'typeorm';
import { AdvisoryLock, tryLock, unlock } from '../../common/advisory-lock';
import type { SyncConfig } from '../sync.config';
import type { LegacyDocument } from '../../model/legacy-document';
import type { LegacyStore } from '../../stores/legacy-store.port';
import type { BatchResult, BatchWriter } from '../batch-writer';
import type { SyncMetrics } from '../sync-metrics';
import type { CatchupPassSummary, SyncStateRepository } from '../state/sync-state.repository';
import type { Throttler } from '../throttle/throttler';
import { CatchupAppliedLog, changedAt } from './catchup-applied.log';
import { hexOf, objectIdAt, objectIdFloor } from './object-id-time';

export type CatchupPassResult = CatchupPassSummary | { skipped: 'paused' | 'busy' | 'stopping' };

/**
 * How a pass runs. `urgent` (the cutover's passes): neither the pause nor the rate ceiling holds it back.
 * `lockTimeoutMs`: the longest each of its batches waits for a lock another session holds (a conversation's row
 * locked by a sync batch that froze in its transaction); past it the batch, and so the pass, fails with PostgreSQL's
 * lock_not_available (isLockTimeout) instead of waiting up to the statement timeout.
 */
export interface PassMode {
  urgent?: boolean;
  lockTimeoutMs?: number;
  /**
   * The time the pass may still take (the cutover's budget under the write fence): each batch's lock waits are bounded
   * by it too, and once it is spent the pass ends after its batch, not exhausted.
   */
  timeLeftMs?: () => number;
}

/** The catch-up pass lock, held by its caller (CatchupService.holdPassLock). */
export interface HeldPassLock {
  /** One pass under the lock (never `busy`). */
  pass(trigger: string, options?: PassMode): Promise<CatchupPassResult>;
  /** Gives the lock up (once; later calls do nothing). */
  release(): Promise<void>;
}

const MANUAL_LOCK_WAIT_MS = 20_000;

export class CatchupService {
  private readonly logger = new Logger('Catchup');
  private stopping = false;

  constructor(
    private readonly config: SyncConfig,
    private readonly dataSource: DataSource,
    private readonly legacy: LegacyStore,
    private readonly state: SyncStateRepository,
    private readonly writer: BatchWriter,
    private readonly throttler: Throttler,
    private readonly metrics: SyncMetrics,
    private readonly applied: CatchupAppliedLog,
  ) {}

  /** Stop between batches (process shutdown); the next pass continues from the watermark. */
  stop(): void {
    this.stopping = true;
  }

  /**
   * One pass. `urgent` (the cutover's passes): neither the pause nor the rate ceiling holds it back. It waits up to
   * `lockWaitMs` for a pass already running (a manual one 20 s by default, a scheduled one not at all).
   */
  async pass(trigger: string, options: { urgent?: boolean; lockWaitMs?: number } = {}): Promise<CatchupPassResult> {
    const urgent = options.urgent === true;
    if (this.stopping) return { skipped: 'stopping' };
    if (!urgent && (await this.throttler.isPaused())) return { skipped: 'paused' };
    // A scheduled pass that finds another running just skips; a manual one waits its turn (bounded), so
    // "run a pass now" really covers every change made before it was asked for.
    const held = await this.holdPassLock(options.lockWaitMs ?? (trigger === 'manual' ? MANUAL_LOCK_WAIT_MS : 0));
    if (!held) return { skipped: 'busy' };
    try {
      return await held.pass(trigger, { urgent });
    } finally {
      await held.release();
    }
  }

  /**
   * The pass lock, waited for at most `waitMs` (null if another pass still holds it then), and held until `release`:
   * its passes run one after another under it, and no other pass runs meanwhile. The cutover holds it from its last
   * pass before the write fence to the move's end, so that its pass under the fence never waits for one elsewhere
   * (a worker frozen or gone silent in the middle of a pass) while every write waits.
   */
  async holdPassLock(waitMs: number): Promise<HeldPassLock | null> {
    const lock = this.dataSource.createQueryRunner();
    await lock.connect();
    try {
      for (const deadline = Date.now() + waitMs; !(await tryLock(lock, AdvisoryLock.CatchupPass));) {
        if (Date.now() >= deadline) {
          await lock.release();
          return null;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } catch (err) {
      await lock.release();
      throw err;
    }
    let released = false;
    return {
      pass: async (trigger, options = {}) => {
        if (released) throw new Error('the catch-up pass lock was released');
        if (this.stopping) return { skipped: 'stopping' };
        if (!options.urgent && (await this.throttler.isPaused())) return { skipped: 'paused' };
        return this.run(trigger, options);
      },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await unlock(lock, AdvisoryLock.CatchupPass).catch(() => undefined);
        } finally {
          await lock.release();
        }
      },
    };
  }

  private async run(trigger: string, mode: PassMode): Promise<CatchupPassSummary> {
    const passStart = Date.now();
    await this.state.initCatchup(passStart - this.config.catchupOverlapMs);
    const state = (await this.state.catchup())!;
    // No backfill was ever started: the inserts since the watermark began are the catch-up's (what was there before is
    // the backfill's, and the gates wait for it; once one starts, its split sets where its ranges end).
    if (state.newIdsAfter === null) {
      const start = objectIdAt(state.updatedMs);
      if (await this.state.startNewIds(start)) state.newIdsAfter = start;
    }
    const totals = { read: 0, written: 0, skipped: 0, dead: 0, batches: 0 };
    const add = (r: BatchResult) => {
      totals.read += r.read;
      totals.written += r.written;
      totals.skipped += r.skipped;
      totals.dead += r.dead;
      totals.batches++;
    };

    let changes: 'exhausted' | 'budget' | 'paused';
    let inserts: 'exhausted' | 'budget' | 'paused' | 'none' = 'none';
    if (state.newIdsAfter && (await this.shortTail(state.updatedMs, state.newIdsAfter, passStart, add, mode))) {
      changes = inserts = 'exhausted';
    } else {
      changes = await this.changes(state.updatedMs, passStart, totals, add, mode);
      if (changes === 'exhausted') {
        await this.state.advanceUpdated(passStart, null);
      }
      if (state.newIdsAfter && changes === 'exhausted') inserts = await this.inserts(state.newIdsAfter, totals, add, mode);
    }

    const summary: CatchupPassSummary = {
      at: new Date(passStart).toISOString(),
      trigger,
      ...totals,
      exhausted: changes === 'exhausted' && inserts !== 'budget' && inserts !== 'paused',
    };
    await this.state.recordPass(summary);
    if (totals.written > 0) await this.applied.prune(passStart);
    if (totals.read > 0) this.logger.log({ msg: 'catch-up pass', ...summary });
    return summary;
  }

  /**
   * The usual pass once the backfill is done: what changed and what was inserted since the watermarks is
   * less than a batch, so one unordered query reads it all (one pass over the collection instead of two
   * on a server without indexes) and both watermarks move in the batch's transaction. A full batch
   * means more than that: false, and the ordered scans take over (they read it again, in order).
   */
  private async shortTail(
    updatedMs: number,
    newIdsAfter: string,
    passStart: number,
    add: (r: BatchResult) => void,
    mode: PassMode,
  ): Promise<boolean> {
    if (await this.held(mode)) return false;
    const limit = this.throttler.batchLimit(this.config.batchSize);
    const idFloor = objectIdFloor(newIdsAfter, this.config.catchupOverlapMs);
    const t0 = performance.now();
    const docs = await this.legacy.scanChangedOrInserted(limit, new Date(updatedMs - this.config.catchupOverlapMs), idFloor);
    const readMs = performance.now() - t0;
    if (docs.length >= limit) return false;
    if (docs.length === 0) {
      await this.state.advanceUpdated(passStart, null);
      return true;
    }
    // The inserts watermark moves to the highest ObjectId read (a string `_id` came in by `updated`).
    const maxId = docs
      .map((d) => (typeof d._id === 'object' ? hexOf(d._id) : undefined))
      .reduce<string | undefined>((max, id) => (id && id > idFloor && (!max || id > max) ? id : max), undefined);
    add(
      await this.write(docs, readMs, mode, async (q) => {
        await this.state.advanceUpdated(passStart, null, q);
        if (maxId) await this.state.advanceNewIds(maxId, q);
      }),
    );
    return true;
  }

  /** Documents changed after `updatedMs - overlap`, in (`updated`, `_id`) order. */
  private async changes(updatedMs: number, passStart: number, totals: { batches: number }, add: (r: BatchResult) => void, mode: PassMode) {
    let position: { updated: Date; id?: string } = { updated: new Date(updatedMs - this.config.catchupOverlapMs) };
    for (;;) {
      if (totals.batches >= this.config.catchupMaxBatches || mode.timeLeftMs?.() === 0) return 'budget' as const;
      if (await this.held(mode)) return 'paused' as const;
      const limit = mode.urgent ? this.config.batchSize : this.throttler.batchLimit(this.config.batchSize);
      const t0 = performance.now();
      const docs = await this.legacy.scanByUpdated(limit, position);
      const readMs = performance.now() - t0;
      if (docs.length === 0) return 'exhausted' as const;
      const last = docs[docs.length - 1];
      position = { updated: last.updated as Date, id: hexOf(last._id) };
      // A document dated in the future (a bad clock) is copied, but must not carry the watermark past now:
      // every real change until then would be skipped.
      const at = position.updated.getTime() <= passStart ? position : { updated: new Date(passStart), id: undefined };
      add(await this.write(docs, readMs, mode, (q) => this.state.advanceUpdated(at.updated.getTime(), at.id ?? null, q)));
      if (docs.length < limit) return 'exhausted' as const;
    }
  }

  /** Documents inserted after the backfill's split (or the catch-up's start): every ObjectId above the insert watermark. */
  private async inserts(newIdsAfter: string, totals: { batches: number }, add: (r: BatchResult) => void, mode: PassMode) {
    let after = objectIdFloor(newIdsAfter, this.config.catchupOverlapMs);
    for (;;) {
      if (totals.batches >= this.config.catchupMaxBatches || mode.timeLeftMs?.() === 0) return 'budget' as const;
      if (await this.held(mode)) return 'paused' as const;
      const limit = mode.urgent ? this.config.batchSize : this.throttler.batchLimit(this.config.batchSize);
      const t0 = performance.now();
      const docs = await this.legacy.scanById(limit, after);
      const readMs = performance.now() - t0;
      if (docs.length === 0) return 'exhausted' as const;
      const lastId = hexOf(docs[docs.length - 1]._id)!;
      after = lastId;
      add(await this.write(docs, readMs, mode, (q) => this.state.advanceNewIds(lastId, q)));
      if (docs.length < limit) return 'exhausted' as const;
    }
  }

  /** Whether a pass must stop here: the process is stopping, or (unless urgent) the sync is paused. */
  private async held(mode: PassMode): Promise<boolean> {
    return this.stopping || (!mode.urgent && (await this.throttler.isPaused()));
  }

  private async write(
    docs: LegacyDocument[],
    readMs: number,
    mode: PassMode,
    advance: (q: QueryRunner) => Promise<void>,
  ): Promise<BatchResult> {
    // The ceiling and the pause apply; the latency back-off does not: catch-up is a trickle the size of the
    // legacy application's own writes, and slowing it under load would only let the new store fall behind.
    if (!mode.urgent) await this.throttler.throttled(docs.length, { latencyBackoff: false });
    const batch = this.writer.prepare(docs, 'catchup');
    const t0 = performance.now();
    const bounds = [mode.lockTimeoutMs, mode.timeLeftMs?.()].filter((v): v is number => v !== undefined);
    const lockTimeoutMs = bounds.length > 0 ? Math.min(...bounds) : undefined;
    const result = await this.writer.write(batch, {
      begin: lockTimeoutMs === undefined ? undefined : (q) => q.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`),
      commit: async (q, r) => {
        await advance(q);
        await this.applied.record(
          q,
          r.writtenIds.map((id) => ({ id, changedAt: changedAt(batch.raw.get(id)!) })),
        );
      },
    });
    this.metrics.batchDone('catchup', result, readMs, performance.now() - t0);
    return result;
  }
}
