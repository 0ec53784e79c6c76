/**
 * Progress of a long scan (archiving, or verification's fresh read of the store): counts, bytes, rate
 * and an ETA from the collection's estimated size. Pure, with an injected clock: the caller feeds
 * counts after every document and is told when to report (callback) and when to log.
 */
export type ArchiveStage = 'archive' | 'verify';

export interface ArchiveProgress {
  stage: ArchiveStage;
  documents: number;
  /** estimatedDocumentCount at the start; the real count may differ. */
  estimatedTotal: number;
  /** 0..100, null when the estimate is 0; capped at 100 while the estimate is exceeded. */
  percent: number | null;
  contentBytes: number;
  /** Compressed bytes written so far (archive stage). */
  archiveBytes: number;
  elapsedMs: number;
  docsPerSecond: number;
  bytesPerSecond: number;
  /** null when unknown (nothing read yet, or the estimate is already exceeded); 0 when done. */
  etaSeconds: number | null;
  done: boolean;
}

export interface ProgressCounts {
  documents: number;
  contentBytes: number;
  archiveBytes: number;
}

export interface ProgressDecision {
  progress: ArchiveProgress;
  report: boolean;
  log: boolean;
}

export class ProgressTracker {
  private readonly startedMs: number;
  private lastReportMs: number;
  private lastLogMs: number;

  constructor(
    private readonly stage: ArchiveStage,
    private readonly estimatedTotal: number,
    private readonly intervals: { reportMs: number; logMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.startedMs = now();
    this.lastReportMs = this.startedMs;
    this.lastLogMs = this.startedMs;
  }

  /** Whether this update is due for the callback and for the log; `done` always reports and logs. */
  update(counts: ProgressCounts, done = false): ProgressDecision {
    const t = this.now();
    const report = done || t - this.lastReportMs >= this.intervals.reportMs;
    const log = done || t - this.lastLogMs >= this.intervals.logMs;
    if (report) this.lastReportMs = t;
    if (log) this.lastLogMs = t;
    return { progress: this.snapshot(counts, t, done), report, log };
  }

  snapshot(counts: ProgressCounts, t = this.now(), done = false): ArchiveProgress {
    const elapsedMs = Math.max(0, t - this.startedMs);
    const seconds = elapsedMs / 1000;
    const docsPerSecond = seconds > 0 ? counts.documents / seconds : 0;
    const bytesPerSecond = seconds > 0 ? counts.contentBytes / seconds : 0;
    const remaining = this.estimatedTotal - counts.documents;
    let etaSeconds: number | null = null;
    if (done) etaSeconds = 0;
    else if (remaining > 0 && docsPerSecond > 0) etaSeconds = remaining / docsPerSecond;
    return {
      stage: this.stage,
      documents: counts.documents,
      estimatedTotal: this.estimatedTotal,
      percent: done ? 100 : this.estimatedTotal > 0 ? Math.min(100, (counts.documents / this.estimatedTotal) * 100) : null,
      contentBytes: counts.contentBytes,
      archiveBytes: counts.archiveBytes,
      elapsedMs,
      docsPerSecond,
      bytesPerSecond,
      etaSeconds,
      done,
    };
  }
}
