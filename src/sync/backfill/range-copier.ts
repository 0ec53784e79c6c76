/**
 * Copies one backfill range: claim its lease, then batch by batch from the committed checkpoint —
 * read (DataIterator, one batch ahead), wait for the Throttler, write (BatchWriter, whose transaction
 * renews the lease first and commits the checkpoint last) — until the range is exhausted. Knows nothing
 * of BullMQ: it tells its caller why it stopped, and the caller decides when the job comes back.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { SyncConfig } from '../../config/sync-config';
import type { LegacyStore } from '../../stores/legacy-store.port';
import { BatchWriter } from '../batch-writer';
import { DataIterator, PageReader } from '../data-iterator';
import type { SyncMetrics } from '../sync-metrics';
import type { Throttler } from '../throttle/throttler';
import { ClaimedRange, LeaseLostError, RangeStateTracker } from './range-state.tracker';
import type { RunRepository } from './run.repository';

export type RangeOutcome =
  | { outcome: 'done'; runCompleted: boolean }
  /** Paused by an operator: the lease is released, the checkpoint kept; come back later. */
  | { outcome: 'paused' }
  /** This process is shutting down: the lease is released, the checkpoint kept; any worker may go on at once. */
  | { outcome: 'stopped' }
  /** Another worker holds a live lease: come back after `retryInMs`. */
  | { outcome: 'held'; retryInMs: number }
  /** Another worker took the range over (this one was presumed dead): nothing more to do here. */
  | { outcome: 'lease_lost' }
  | { outcome: 'gone' };

const WORKER_ID = `${hostname()}:${process.pid}`;

export class RangeCopier {
  private readonly logger = new Logger('RangeCopier');
  private stopping = false;

  constructor(
    private readonly config: SyncConfig,
    private readonly legacy: LegacyStore,
    private readonly tracker: RangeStateTracker,
    private readonly runs: RunRepository,
    private readonly writer: BatchWriter,
    private readonly throttler: Throttler,
    private readonly metrics: SyncMetrics,
  ) {}

  /** Stop every range between batches (process shutdown): a worker must not hold a range while it exits. */
  stop(): void {
    this.stopping = true;
  }

  async copy(runId: number, rangeNo: number): Promise<RangeOutcome> {
    if (this.stopping) return { outcome: 'stopped' };
    const token = `${WORKER_ID}/${randomUUID()}`;
    const claim = await this.tracker.claim(runId, rangeNo, token, this.config.leaseMs);
    if (claim.outcome !== 'claimed') return claim.outcome === 'done' ? { outcome: 'done', runCompleted: await this.runs.completeIfDone(runId) } : claim;
    const range = claim.range;
    this.logger.log({ msg: 'range claimed', runId, rangeNo, kind: range.kind, checkpoint: range.checkpoint ?? range.startAfter, docsRead: range.docsRead });

    const iterator = this.iterator(range);
    try {
      for (;;) {
        if (this.stopping) {
          await this.tracker.release(runId, rangeNo, token);
          return { outcome: 'stopped' };
        }
        if (await this.throttler.isPaused()) {
          await this.tracker.release(runId, rangeNo, token);
          this.logger.log({ msg: 'range paused', runId, rangeNo });
          return { outcome: 'paused' };
        }
        const page = await iterator.next();
        if (page.docs.length > 0) {
          await this.throttler.throttled(page.docs.length);
          const batch = this.writer.prepare(page.docs, 'backfill');
          const t0 = performance.now();
          const result = await this.writer.write(batch, {
            begin: (q) => this.tracker.holdLease(q, runId, rangeNo, token, this.config.leaseMs),
            commit: (q, r) => this.tracker.checkpoint(q, runId, rangeNo, token, range.kind === 'ids' ? (page.next as string) : null, r),
          });
          const writeMs = performance.now() - t0;
          this.metrics.batchDone('backfill', result, page.readMs, writeMs);
          if (page.full) {
            this.throttler.observeLatency('legacy_read', page.readMs);
            this.throttler.observeLatency('new_write', writeMs);
          }
        }
        if (!page.full) {
          await this.tracker.finish(runId, rangeNo, token);
          const runCompleted = await this.runs.completeIfDone(runId);
          this.logger.log({ msg: 'range done', runId, rangeNo, runCompleted });
          return { outcome: 'done', runCompleted };
        }
      }
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.logger.warn({ msg: 'range taken over by another worker', runId, rangeNo });
        return { outcome: 'lease_lost' };
      }
      // The job is retried (with back-off); letting the lease go means the retry need not wait it out.
      await this.tracker.release(runId, rangeNo, token).catch(() => undefined);
      throw err;
    } finally {
      iterator.close();
    }
  }

  private iterator(range: ClaimedRange): DataIterator<string | number | undefined> {
    const limit = () => this.throttler.batchLimit(range.batchSize);
    if (range.kind === 'other_ids') {
      // Few documents, no usable order key: the position is how many have been copied (docs_read).
      const read: PageReader<number> = async (skip, n) => {
        const docs = await this.legacy.scanOtherIds(n, skip);
        return { docs, next: skip + docs.length };
      };
      return new DataIterator(read as PageReader<string | number | undefined>, range.docsRead, limit);
    }
    const endAt = range.endAt ?? undefined;
    const read: PageReader<string | undefined> = async (after, n) => {
      const docs = await this.legacy.scanById(n, after, endAt);
      return { docs, next: docs.length > 0 ? idOf(docs[docs.length - 1]) : after };
    };
    return new DataIterator(read as PageReader<string | number | undefined>, range.checkpoint ?? range.startAfter ?? undefined, limit);
  }
}

function idOf(doc: { _id: unknown }): string {
  const id = doc._id as { toHexString?: () => string } | string;
  return typeof id === 'string' ? id : id.toHexString!();
}
