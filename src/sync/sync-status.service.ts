/**
 * What `GET /migration/sync` (and the CLI) show: the latest backfill run with its counts, ranges, rate
 * over a recent window and ETA; the pause flag and throttle; the catch-up watermark and lag; open dead
 * letters. Everything comes from PostgreSQL, so any API replica answers the same.
 */
import type { SyncConfig } from './sync.config';
import type { BackfillQueue } from './backfill/backfill.queue';
import type { RunRepository } from './backfill/run.repository';
import type { DeadLetterRepository } from './dead-letters/dead-letter.repository';
import type { SyncGaugeSource } from './sync-metrics';
import type { CatchupPassSummary, SyncStateRepository } from './state/sync-state.repository';

export const RATE_WINDOW_MS = 30_000;

export interface SyncStatus {
  backfill: {
    runId: number;
    status: string;
    startedAt: string;
    finishedAt: string | null;
    batchSize: number;
    splitComplete: boolean;
    /**
     * The split of the `_id` space (a job on a worker): `queued`, `scanning` (with the ids counted so far
     * and the collection's estimated size), or `complete`. Null fields when Redis does not answer.
     */
    split?: { state: 'queued' | 'scanning' | 'complete'; idsScanned: number | null; estimate: number | null };
    ranges: { total: number; done: number; running: number; pending: number };
    counts: { expected: number; read: number; written: number; skipped: number; dead: number };
    percent: number;
    rate: { docsPerSecond: number; windowSeconds: number };
    etaSeconds: number | null;
    /** Range jobs by state; `failed` ones are re-queued by POST /migration/sync/backfill. Null when Redis does not answer. */
    jobs: Record<string, number> | null;
  } | null;
  paused: boolean;
  pause: { by?: string; reason?: string; at?: string } | null;
  throttle: { maxDocsPerSecond: number; source: 'config' | 'operator' };
  catchup: {
    watermark: { updated: string; id: string | null } | null;
    lagSeconds: number | null;
    newIdsAfter: string | null;
    intervalMs: number;
    overlapMs: number;
    lastPass: CatchupPassSummary | null;
  };
  deadLetters: { open: number; resolved: number };
}

/** Where the copying stands for some conversations (shadow comparison reads it to tell lag from a difference). */
export interface CopyPosition {
  /** Of the ids asked about, those no backfill has copied yet. */
  notCopied: string[];
  /**
   * Of the ids asked about, those above catch-up's insert watermark: inserted after the split (or the catch-up's start),
   * not copied yet.
   */
  insertsPending: string[];
  /**
   * Every legacy change with `updated` before this instant (epoch ms) is in the new store: the watermark less
   * the overlap window a pass reads again (a change that became visible late may lie in it). Null before catch-up
   * has a watermark.
   */
  changesAppliedBefore: number | null;
}

export class SyncStatusService implements SyncGaugeSource {
  constructor(
    private readonly config: SyncConfig,
    private readonly runs: RunRepository,
    private readonly state: SyncStateRepository,
    private readonly deadLetters: DeadLetterRepository,
    private readonly queue: BackfillQueue,
  ) {}

  async status(): Promise<SyncStatus> {
    const [run, all, deadLetters] = await Promise.all([this.runs.latest(), this.state.readAll(), this.deadLetters.counts()]);
    let backfill: SyncStatus['backfill'] = null;
    if (run) {
      const [progress, rate, jobs, splitJob] = await Promise.all([
        this.runs.progress(run.id),
        this.runs.rate(run, RATE_WINDOW_MS),
        this.queue.counts().catch(() => null),
        run.splitComplete || run.status !== 'running' ? null : this.queue.splitState(run.id).catch(() => null),
      ]);
      const done = run.status === 'completed';
      const total = Math.max(progress.expected, progress.read);
      backfill = {
        runId: run.id,
        status: run.status,
        startedAt: run.startedAt.toISOString(),
        finishedAt: run.finishedAt ? run.finishedAt.toISOString() : null,
        batchSize: run.batchSize,
        splitComplete: run.splitComplete,
        split: run.splitComplete
          ? { state: 'complete', idsScanned: progress.expected, estimate: run.totalEstimate }
          : {
              state: splitJob?.progress?.scanned !== undefined ? 'scanning' : 'queued',
              idsScanned: splitJob?.progress?.scanned ?? null,
              estimate: splitJob?.progress?.estimate || (run.totalEstimate > 0 ? run.totalEstimate : null),
            },
        ranges: progress.ranges,
        counts: {
          expected: progress.expected,
          read: progress.read,
          written: progress.written,
          skipped: progress.skipped,
          dead: progress.dead,
        },
        percent: done ? 100 : total > 0 ? Math.min(99.9, Math.floor((progress.read / total) * 1000) / 10) : 0,
        rate: { docsPerSecond: Math.round(rate * 10) / 10, windowSeconds: RATE_WINDOW_MS / 1000 },
        etaSeconds: done ? 0 : rate > 0 && run.splitComplete ? Math.ceil(progress.remaining / rate) : null,
        jobs,
      };
    }
    const override = all.throttle.maxDocsPerSecond;
    return {
      backfill,
      paused: all.pause.paused === true,
      pause: all.pause.paused ? { by: all.pause.by, reason: all.pause.reason, at: all.pause.at } : null,
      throttle: {
        maxDocsPerSecond: override ?? this.config.maxDocsPerSecond,
        source: override === null || override === undefined ? 'config' : 'operator',
      },
      catchup: {
        watermark: all.catchup ? { updated: new Date(all.catchup.updatedMs).toISOString(), id: all.catchup.id } : null,
        lagSeconds: all.catchup ? lagSeconds(all.catchup.updatedMs) : null,
        newIdsAfter: all.catchup?.newIdsAfter ?? null,
        intervalMs: this.config.catchupIntervalMs,
        overlapMs: this.config.catchupOverlapMs,
        lastPass: all.catchup?.lastPass ?? null,
      },
      deadLetters,
    };
  }

  async copyPosition(ids: readonly string[]): Promise<CopyPosition> {
    const [notCopied, catchup] = await Promise.all([this.runs.notCopied(ids), this.state.catchup()]);
    const after = catchup?.newIdsAfter ?? null;
    return {
      notCopied,
      // Ids are 24 lower-case hex digits, so string order is _id order.
      insertsPending: after === null ? [] : ids.filter((id) => id > after),
      changesAppliedBefore: catchup ? catchup.updatedMs - this.config.catchupOverlapMs : null,
    };
  }

  async gauges() {
    const [run, catchup, dead] = await Promise.all([this.runs.latest(), this.state.catchup(), this.deadLetters.counts()]);
    const progress = run ? await this.runs.progress(run.id) : null;
    return {
      catchupLagSeconds: catchup ? lagSeconds(catchup.updatedMs) : null,
      backfill: {
        expected: progress?.expected ?? 0,
        read: progress?.read ?? 0,
        written: progress?.written ?? 0,
        skipped: progress?.skipped ?? 0,
        dead: progress?.dead ?? 0,
      },
      deadLettersOpen: dead.open,
    };
  }
}

function lagSeconds(updatedMs: number): number {
  return Math.max(0, Math.round((Date.now() - updatedMs) / 100) / 10);
}
