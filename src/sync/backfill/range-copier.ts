/**
 * Copies one lane of a backfill run (or range 0): ranges in `_id` order, each under its own lease and
 * checkpoint, all read through ONE legacy cursor (LegacyRangeScan) opened at the first range's checkpoint
 * and bounded by the lane's end. Per range, batch by batch: read (the next batch is read while this one
 * is written), wait for the Throttler, write (BatchWriter, whose transaction renews the lease first and
 * commits the checkpoint last), until the range's end; then claim the next range and go on reading.
 *
 * Why one cursor per lane: a server that cannot seek by `_id` (FerretDB v1 decodes and sorts the whole
 * collection for every query with an `_id` range) makes each cursor cost a pass over the collection, so
 * the work of a run is (cursors x collection). Lanes keep the number of cursors at the number of job
 * slots serving the queue when the run was split (see BackfillService), whatever the number of ranges.
 *
 * Memory is bounded in bytes, not only in documents: a batch ends at SYNC_BATCH_SIZE documents or about
 * SYNC_BATCH_BYTES of BSON, whichever comes first, and the cursor's server batches are sized from the
 * collection's mean document size to about CURSOR_BATCH_BYTES (the scan decodes a document only when it is
 * read). So a worker holds at most one raw server batch, the batch being read and the batch being written,
 * whatever the documents weigh and however many there are.
 *
 * Knows nothing of BullMQ: it tells its caller why it stopped, and the caller decides when the job comes back.
 */
import { Logger } from '@nestjs/common';
import type { SyncConfig } from '../sync.config';
import type { LegacyDocument } from '../../model/legacy-document';
import type { LegacyRangeScan, LegacyStore } from '../../stores/legacy-store.port';
import type { BatchWriter } from '../batch-writer';
import type { SyncMetrics } from '../sync-metrics';
import type { Throttler } from '../throttle/throttler';
import { OTHER_IDS_RANGE } from './range-splitter';
import { ClaimedRange, LeaseLostError, newClaimToken, RangeStateTracker } from './range-state.tracker';
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

/** Documents per server batch of a copy cursor: about CURSOR_BATCH_BYTES, within these bounds. */
const CURSOR_BATCH_MIN = 100;
const CURSOR_BATCH_MAX = 5000;
const CURSOR_BATCH_BYTES = 8 * 1024 * 1024;

interface Page {
  docs: LegacyDocument[];
  /** The read stopped at a limit (documents or bytes): more may follow in this range. */
  full: boolean;
  readMs: number;
  /** The legacy store's latency: the mean time of the server round trips this read waited for; null if none. */
  fetchMs: number | null;
}

/** Where a lane's time went, logged when it ends (the bench reads it). */
interface LaneStats {
  docs: number;
  batches: number;
  /** The first read of the cursor: the server's own work before its first document (a sort). */
  firstReadMs: number;
  /** Time spent waiting for reads that were not ready (reads overlap writes). */
  readWaitMs: number;
  transformMs: number;
  writeMs: number;
  throttleMs: number;
}

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

  /** Copies range 0, or the lane whose first range is `rangeNo` (from its first range not done). */
  async copy(runId: number, rangeNo: number): Promise<RangeOutcome> {
    if (this.stopping) return { outcome: 'stopped' };
    return rangeNo === OTHER_IDS_RANGE ? this.copyOtherIds(runId) : this.copyLane(runId, rangeNo);
  }

  private async copyLane(runId: number, head: number): Promise<RangeOutcome> {
    const lane = await this.runs.lane(runId, head);
    if (!lane) return { outcome: 'gone' };
    const token = newClaimToken();
    const t0 = performance.now();
    const stats: LaneStats = { docs: 0, batches: 0, firstReadMs: 0, readWaitMs: 0, transformMs: 0, writeMs: 0, throttleMs: 0 };
    let scan: LegacyRangeScan | null = null;
    let copied = 0;
    let outcome: RangeOutcome | undefined;
    const meanBytes = await this.legacy.averageDocumentBytes().catch(() => null);
    try {
      for (const ref of lane.ranges) {
        if (ref.status === 'done') continue;
        if (this.stopping) return (outcome = { outcome: 'stopped' });
        const claim = await this.tracker.claim(runId, ref.rangeNo, token, this.config.leaseMs);
        if (claim.outcome === 'done') continue;
        if (claim.outcome !== 'claimed') return (outcome = claim);
        const range = claim.range;
        const from = range.checkpoint ?? range.startAfter;
        const opened = scan === null;
        if (scan === null) scan = this.legacy.openRangeScan(from, lane.endAt, cursorBatch(range.batchSize, meanBytes));
        // Ranges done meanwhile (or a checkpoint further on) lie between the cursor and this range's position.
        else if (from !== null) await scan.skipThrough(from);
        outcome = await this.copyRange(range, scan, token, stats, opened);
        if (outcome.outcome !== 'done') return outcome;
        copied++;
      }
      return (outcome = { outcome: 'done', runCompleted: await this.runs.completeIfDone(runId) });
    } finally {
      await scan?.close();
      if (stats.batches > 0) {
        const ms = Math.round(performance.now() - t0);
        this.logger.log({ msg: 'lane ended', runId, head, outcome: outcome?.outcome ?? 'error', ranges: copied, ms, ...roundStats(stats) });
      }
    }
  }

  private async copyOtherIds(runId: number): Promise<RangeOutcome> {
    const token = newClaimToken();
    const claim = await this.tracker.claim(runId, OTHER_IDS_RANGE, token, this.config.leaseMs);
    if (claim.outcome !== 'claimed')
      return claim.outcome === 'done' ? { outcome: 'done', runCompleted: await this.runs.completeIfDone(runId) } : claim;
    const range = claim.range;
    // Few documents, no usable order key: the position is how many have been copied (docs_read).
    const scan = this.legacy.openOtherIdsScan(
      range.docsRead,
      cursorBatch(range.batchSize, await this.legacy.averageDocumentBytes().catch(() => null)),
    );
    const stats: LaneStats = { docs: 0, batches: 0, firstReadMs: 0, readWaitMs: 0, transformMs: 0, writeMs: 0, throttleMs: 0 };
    try {
      const outcome = await this.copyRange(range, scan, token, stats, true);
      return outcome.outcome === 'done' ? { outcome: 'done', runCompleted: await this.runs.completeIfDone(runId) } : outcome;
    } finally {
      await scan.close();
    }
  }

  /** One claimed range, from the scan's position to the range's end. */
  private async copyRange(
    range: ClaimedRange,
    scan: LegacyRangeScan,
    token: string,
    stats: LaneStats,
    freshCursor: boolean,
  ): Promise<RangeOutcome> {
    const { runId, rangeNo } = range;
    this.logger.log({
      msg: 'range claimed',
      runId,
      rangeNo,
      kind: range.kind,
      checkpoint: range.checkpoint ?? range.startAfter,
      docsRead: range.docsRead,
    });
    const lease = this.tracker.heartbeat(runId, rangeNo, token, this.config.leaseMs);
    const endAt = range.kind === 'ids' ? (range.endAt ?? undefined) : undefined;
    const read = async (): Promise<Page> => {
      const asked = this.throttler.batchLimit(range.batchSize);
      const r0 = performance.now();
      const docs = await scan.next(asked, endAt, this.config.batchBytes);
      const fetches = scan.lastFetches;
      return {
        docs,
        full: docs.length >= asked || scan.stoppedAtBytes,
        readMs: performance.now() - r0,
        fetchMs: fetches.count > 0 ? fetches.ms / fetches.count : null,
      };
    };
    let pending: Promise<Page> | null = read();
    let firstRead = freshCursor;
    const release = async () => {
      await lease.stop();
      await this.tracker.release(runId, rangeNo, token);
    };
    try {
      for (;;) {
        if (this.stopping) {
          await release();
          return { outcome: 'stopped' };
        }
        if (lease.lost) return { outcome: 'lease_lost' };
        if (await this.throttler.isPaused()) {
          await release();
          this.logger.log({ msg: 'range paused', runId, rangeNo });
          return { outcome: 'paused' };
        }
        const w0 = performance.now();
        const page: Page = await pending!;
        const waited = performance.now() - w0;
        pending = null;
        if (firstRead) stats.firstReadMs += page.readMs;
        else stats.readWaitMs += waited;
        const full = page.full;
        // The next batch is read while this one is written.
        if (full) pending = read();
        if (page.docs.length > 0) {
          const t0 = performance.now();
          await this.throttler.throttled(page.docs.length);
          const t1 = performance.now();
          const batch = this.writer.prepare(page.docs, 'backfill');
          const t2 = performance.now();
          const last = page.docs[page.docs.length - 1];
          const result = await this.writer.write(batch, {
            begin: (q) => this.tracker.holdLease(q, runId, rangeNo, token, this.config.leaseMs),
            commit: (q, r) => this.tracker.checkpoint(q, runId, rangeNo, token, range.kind === 'ids' ? idOf(last) : null, r),
          });
          const writeMs = performance.now() - t2;
          stats.docs += page.docs.length;
          stats.batches++;
          stats.throttleMs += t1 - t0;
          stats.transformMs += t2 - t1;
          stats.writeMs += writeMs;
          this.metrics.batchDone('backfill', result, page.readMs, writeMs);
          // Reads served from the cursor's batch are no sample of the server's latency (LegacyRangeScan.lastFetches).
          if (page.fetchMs !== null) this.throttler.observeLatency('legacy_read', page.fetchMs);
          if (full) this.throttler.observeLatency('new_write', writeMs);
        }
        firstRead = false;
        if (!full) {
          await lease.stop();
          await this.tracker.finish(runId, rangeNo, token);
          this.logger.log({ msg: 'range done', runId, rangeNo });
          return { outcome: 'done', runCompleted: false };
        }
      }
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.logger.warn({ msg: 'range taken over by another worker', runId, rangeNo });
        return { outcome: 'lease_lost' };
      }
      // The job is retried (with back-off); letting the lease go means the retry need not wait it out.
      await release().catch(() => undefined);
      throw err;
    } finally {
      await lease.stop();
      // A read started for a batch that will not be written: its result (or failure) is dropped.
      pending?.catch(() => undefined);
    }
  }
}

/** A server batch of about CURSOR_BATCH_BYTES (a write batch when the mean size is not known). */
function cursorBatch(batchSize: number, meanBytes: number | null): number {
  const docs = meanBytes ? Math.floor(CURSOR_BATCH_BYTES / meanBytes) : batchSize;
  return Math.min(CURSOR_BATCH_MAX, Math.max(CURSOR_BATCH_MIN, docs));
}

function roundStats(s: LaneStats): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v)]));
}

function idOf(doc: { _id: unknown }): string {
  const id = doc._id as { toHexString?: () => string } | string;
  return typeof id === 'string' ? id : id.toHexString!();
}
