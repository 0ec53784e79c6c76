/**
 * Starts or resumes the historical sync. The one orchestrator: it wires the parts (RunRepository,
 * RangeSplitter, BackfillQueue, the catch-up schedule) and holds no state of its own.
 *
 * Start (the operator's request, kept short): a run is created (or the running one found), the catch-up
 * watermark starts at the run's start minus the overlap if it has none (changes from then on are
 * catch-up's; older state is in the snapshot the ranges read), and a split job is queued. The request
 * waits (briefly, and not while paused) for a worker to start the split's scan, so the run covers the
 * documents that existed when the operator got the answer.
 * Split (a job, on the first worker to take it): the `_id` space is split in one pass, the ranges, lanes
 * (as many as there are job slots serving the queue: workers x SYNC_BACKFILL_CONCURRENCY) and the run's
 * `max_id` are committed at once (catch-up takes every id above `max_id`), then one job per lane (and
 * one for range 0 when there are non-ObjectId ids) is queued.
 * Resume (the same request on a running run): requeues a lost or failed split or lane job. Either way
 * it is idempotent; double clicks do no harm.
 */
import { Logger } from '@nestjs/common';
import type { SyncConfig } from '../sync.config';
import type { CatchupQueue } from '../catchup/catchup.queue';
import type { SyncStateRepository } from '../state/sync-state.repository';
import type { BackfillQueue } from './backfill.queue';
import { WORKER_ID } from './range-state.tracker';
import type { RangeSplitter, SplitProgress } from './range-splitter';
import type { RunRepository } from './run.repository';

export interface BackfillStart {
  runId: number;
  /** False when this call created the run. */
  resumed: boolean;
  splitComplete: boolean;
  /** The split job: `queued` (no worker has started it yet), `scanning`, or `complete`. */
  split: 'queued' | 'scanning' | 'complete';
  ranges: number;
  /** Jobs (split, lanes) (re)queued by this call. */
  enqueued: number;
}

export type SplitJobOutcome = { outcome: 'done'; enqueued: number; runCompleted: boolean } | { outcome: 'paused' | 'stopped' | 'gone' };

/** Below every ObjectId: with an empty collection, every later insert is catch-up's. */
const NO_ID = '0'.repeat(24);
/** How long the start request waits for a worker to begin the split's scan. */
const SPLIT_START_WAIT_MS = 3_000;
const SPLIT_START_POLL_MS = 50;
/** The split looks at the pause flag at most this often. */
const PAUSE_CHECK_MS = 1_000;

export class BackfillService {
  private readonly logger = new Logger('Backfill');
  private stopping = false;

  constructor(
    private readonly config: SyncConfig,
    private readonly runs: RunRepository,
    private readonly splitter: RangeSplitter,
    private readonly queue: BackfillQueue,
    private readonly catchupQueue: CatchupQueue,
    private readonly state: SyncStateRepository,
  ) {}

  /** Process shutdown: a split in progress stops at its next batch (and starts again elsewhere). */
  stop(): void {
    this.stopping = true;
  }

  async startOrResume(): Promise<BackfillStart> {
    const { run, created } = await this.runs.startOrGetRunning(this.config.batchSize);
    if (created) {
      await this.state.initCatchup(run.startedAt.getTime() - this.config.catchupOverlapMs);
      this.logger.log({ msg: 'backfill run started', runId: run.id, batchSize: run.batchSize, rangeSize: this.config.rangeSize });
    }
    await this.catchupQueue.schedule(this.config.catchupIntervalMs);

    let enqueued = 0;
    let split: BackfillStart['split'] = run.splitComplete ? 'complete' : 'queued';
    if (split !== 'complete') {
      if (await this.queue.ensureSplit(run.id)) enqueued++;
      if (!(await this.paused())) split = await this.waitForSplitStart(run.id);
    }
    if (split === 'complete') {
      enqueued += await this.queue.ensure(run.id, await this.runs.undoneJobs(run.id));
      await this.runs.completeIfDone(run.id);
    }
    const progress = await this.runs.progress(run.id);
    return { runId: run.id, resumed: !created, splitComplete: split === 'complete', split, ranges: progress.ranges.total, enqueued };
  }

  /** The split job: splits (unless done already), then makes sure every lane has its job. */
  async split(runId: number, report: (p: SplitProgress) => Promise<void>): Promise<SplitJobOutcome> {
    const run = await this.runs.get(runId);
    if (!run || run.status !== 'running') return { outcome: 'gone' };
    if (!run.splitComplete) {
      const stop = await this.stopReason();
      if (stop) return { outcome: stop };
      const result = await this.splitter.split(run, { onProgress: report, shouldStop: this.throttledStopReason() });
      if (result.outcome !== 'planned') {
        this.logger.log({
          msg: 'backfill split interrupted; it starts again later',
          runId,
          reason: result.outcome,
          scanned: result.scanned,
        });
        return { outcome: result.outcome };
      }
      const { plan } = result;
      // One lane (one legacy cursor) per job slot serving the queue now (or SYNC_BACKFILL_LANES, for workers an
      // autoscaler will add): every slot gets work, and the number of cursors does not grow with the collection.
      const slots = (await this.queue.liveWorkers().catch(() => 1)) * this.config.backfillConcurrency;
      const lanes = Math.max(1, Math.min(plan.ranges.length, Math.max(slots, this.config.backfillLanes)));
      const committed = await this.runs.commitSplit(run.id, {
        ranges: plan.ranges,
        firstRangeNo: result.firstRangeNo,
        maxId: result.maxId,
        noOtherIds: plan.others === 0,
        lanes,
        by: `${WORKER_ID}/split`,
        alsoInTransaction: async (q) => {
          await this.state.initCatchup(run.startedAt.getTime() - this.config.catchupOverlapMs, q);
          await this.state.advanceNewIds(result.maxId ?? NO_ID, q);
        },
      });
      if (committed) {
        this.logger.log({
          msg: 'backfill split complete',
          runId,
          ranges: plan.ranges.length,
          lanes,
          scanned: plan.scanned,
          otherIds: plan.others,
          exact: plan.prefixLength === 24,
          estimate: result.estimate,
          maxId: result.maxId,
          ms: Math.round(result.ms),
        });
      }
    }
    const enqueued = await this.queue.ensure(run.id, await this.runs.undoneJobs(run.id));
    return { outcome: 'done', enqueued, runCompleted: await this.runs.completeIfDone(run.id) };
  }

  /**
   * A worker's periodic check (see WorkRecovery): the jobs are only reminders of the state in
   * PostgreSQL, and Redis can lose them (a restart without persistence, an eviction). Re-creates the
   * running run's split or lane jobs and the catch-up schedule when they are missing; never starts a
   * run. Returns what it re-created.
   */
  async recover(): Promise<string[]> {
    const recovered: string[] = [];
    const run = await this.runs.running();
    if (run) {
      if (!run.splitComplete) {
        if (await this.queue.ensureSplit(run.id)) recovered.push(`backfill run ${run.id}: split job`);
      } else {
        const lanes = await this.queue.ensure(run.id, await this.runs.undoneJobs(run.id));
        if (lanes > 0) recovered.push(`backfill run ${run.id}: ${lanes} lane job${lanes === 1 ? '' : 's'}`);
        await this.runs.completeIfDone(run.id);
      }
    }
    // Catch-up runs from the first backfill on, for good: its schedule must exist once any run does.
    if (this.config.catchupIntervalMs > 0 && (run ?? (await this.runs.latest())) && !(await this.catchupQueue.scheduled())) {
      await this.catchupQueue.schedule(this.config.catchupIntervalMs);
      recovered.push('catch-up schedule');
    }
    return recovered;
  }

  /** After a resume: jobs waiting out the pause come back at once instead of at their next poll. */
  async wakePaused(): Promise<number> {
    return this.queue.promoteDelayed();
  }

  private async waitForSplitStart(runId: number): Promise<BackfillStart['split']> {
    const deadline = Date.now() + SPLIT_START_WAIT_MS;
    for (;;) {
      const { state, progress } = await this.queue.splitState(runId);
      if (state === 'completed') return (await this.runs.get(runId))?.splitComplete ? 'complete' : 'queued';
      if (progress?.scanned !== undefined) return 'scanning';
      if (state === 'failed' || Date.now() >= deadline) return 'queued';
      await new Promise((resolve) => setTimeout(resolve, SPLIT_START_POLL_MS));
    }
  }

  private async paused(): Promise<boolean> {
    return (await this.state.readAll()).pause.paused === true;
  }

  private async stopReason(): Promise<'paused' | 'stopped' | null> {
    if (this.stopping) return 'stopped';
    return (await this.paused()) ? 'paused' : null;
  }

  /** stopReason, reading the pause flag at most every PAUSE_CHECK_MS (it is asked per batch of ids). */
  private throttledStopReason(): () => Promise<'paused' | 'stopped' | null> {
    let checkedAt = Date.now();
    return async () => {
      if (this.stopping) return 'stopped';
      if (Date.now() - checkedAt < PAUSE_CHECK_MS) return null;
      checkedAt = Date.now();
      return (await this.paused()) ? 'paused' : null;
    };
  }
}
