/**
 * Starts or resumes the historical sync. The one orchestrator: it wires the parts (RunRepository,
 * RangeSplitter, BackfillQueue, the catch-up schedule) and holds no state of its own.
 *
 * Start: a run is created (or the running one found), the catch-up watermark starts at the run's start
 * minus the overlap if it has none (changes from then on are catch-up's; older state is in the
 * snapshot the ranges read), the `_id` space is split (ranges are enqueued as they are found), and
 * catch-up takes every id above the run's `max_id`.
 * Resume (the same call on a running run): finishes an interrupted split and recreates any range job that
 * was lost or failed. Either way it is idempotent; double clicks do no harm.
 */
import { Logger } from '@nestjs/common';
import type { SyncConfig } from '../../config/sync-config';
import type { CatchupQueue } from '../catchup/catchup.queue';
import type { SyncStateRepository } from '../state/sync-state.repository';
import type { BackfillQueue } from './backfill.queue';
import type { RangeSplitter } from './range-splitter';
import type { RunRepository } from './run.repository';

export interface BackfillStart {
  runId: number;
  /** False when this call created the run. */
  resumed: boolean;
  splitComplete: boolean;
  ranges: number;
  /** Range jobs (re)queued by this call. */
  enqueued: number;
}

/** Below every ObjectId: with an empty collection, every later insert is catch-up's. */
const NO_ID = '0'.repeat(24);

export class BackfillService {
  private readonly logger = new Logger('Backfill');

  constructor(
    private readonly config: SyncConfig,
    private readonly runs: RunRepository,
    private readonly splitter: RangeSplitter,
    private readonly queue: BackfillQueue,
    private readonly catchupQueue: CatchupQueue,
    private readonly state: SyncStateRepository,
  ) {}

  async startOrResume(): Promise<BackfillStart> {
    const { run, created } = await this.runs.startOrGetRunning(this.config.batchSize);
    if (created) {
      await this.state.initCatchup(run.startedAt.getTime() - this.config.catchupOverlapMs);
      this.logger.log({ msg: 'backfill run started', runId: run.id, batchSize: run.batchSize, rangeSize: this.config.rangeSize });
    }
    await this.catchupQueue.schedule(this.config.catchupIntervalMs);

    let enqueued = 0;
    let splitComplete = run.splitComplete;
    if (!splitComplete) {
      const split = await this.splitter.split(run, async (rangeNo) => {
        await this.queue.enqueue(run.id, rangeNo);
        enqueued++;
      });
      splitComplete = split.complete;
      if (split.complete) {
        // Every id above the split's last one is catch-up's (the watermark row exists: created with the run).
        await this.state.initCatchup(run.startedAt.getTime() - this.config.catchupOverlapMs);
        await this.state.advanceNewIds(split.maxId ?? NO_ID);
        this.logger.log({ msg: 'backfill split complete', runId: run.id, ranges: split.ranges, maxId: split.maxId });
      }
    }
    const undone = await this.runs.undoneRanges(run.id);
    enqueued += await this.queue.ensure(run.id, undone);
    if (splitComplete) await this.runs.completeIfDone(run.id);
    const progress = await this.runs.progress(run.id);
    return { runId: run.id, resumed: !created, splitComplete, ranges: progress.ranges.total, enqueued };
  }

  /** After a resume: jobs waiting out the pause come back at once instead of at their next poll. */
  async wakePaused(): Promise<number> {
    return this.queue.promoteDelayed();
  }
}
