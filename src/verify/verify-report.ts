/** The report shapes of the verification endpoints (and the CLI), from a run row. */
import type { ReportQuery } from './verify.schemas';
import type { SegmentCounts, StoredDifference, VerifyRun } from './verify-run.repository';

export interface RunSummary {
  id: number;
  mode: VerifyRun['mode'];
  status: VerifyRun['status'];
  phase: VerifyRun['phase'];
  /** Completed with no missing, extra or different record (dead-lettered documents are listed, not counted). */
  clean: boolean;
  requestedBy: string | null;
  reason: string | null;
  error: string | null;
  settings: { chunkSize: number; recheckDelayMs: number; pauseMs: number };
  progress: {
    chunksDone: number;
    chunksDiffering: number;
    recordsCompared: number;
    recordsEstimate: number;
    /** Of the walk, by the estimate of records (the new store's row count, or the last run's); null without one. */
    percent: number | null;
    ratePerSecond: number;
    /** Of the walk; null once it is over or while there is no rate yet. */
    etaSeconds: number | null;
    /** Every ObjectId up to this one is walked; null once the walk is over. */
    cursor: string | null;
    elapsedSeconds: number;
    segments: SegmentCounts;
  };
  totals: { missing: number; extra: number; different: number; unreadable: number; repaired: number; pendingRecheck: number };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunReport extends RunSummary {
  differences: {
    offset: number;
    limit: number;
    kind: string | null;
    repaired: boolean | null;
    total: number;
    nextOffset: number | null;
    items: StoredDifference[];
  };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function runSummary(run: VerifyRun): RunSummary {
  const walked = run.status === 'completed' || run.phase !== 'scan';
  const walking = !walked && (run.status === 'running' || run.status === 'queued');
  const rate = run.scanSeconds > 0 ? run.recordsCompared / run.scanSeconds : 0;
  const left = Math.max(0, run.recordsEstimate - run.recordsCompared);
  return {
    id: run.id,
    mode: run.mode,
    status: run.status,
    phase: run.phase,
    clean: run.status === 'completed' && run.missing + run.extra + run.different + run.pendingRecheck === 0,
    requestedBy: run.requestedBy,
    reason: run.reason,
    error: run.error,
    settings: { chunkSize: run.chunkSize, recheckDelayMs: run.recheckDelayMs, pauseMs: run.pauseMs },
    progress: {
      chunksDone: run.chunksDone,
      chunksDiffering: run.chunksDiffering,
      recordsCompared: run.recordsCompared,
      recordsEstimate: run.recordsEstimate,
      percent: walked ? 100 : run.recordsEstimate > 0 ? Math.min(99.9, round((100 * run.recordsCompared) / run.recordsEstimate)) : null,
      ratePerSecond: round(rate),
      etaSeconds: walking && rate > 0 ? Math.ceil(left / rate) : null,
      cursor: run.lowWater,
      elapsedSeconds: round(run.elapsedSeconds),
      segments: run.segments,
    },
    totals: {
      missing: run.missing,
      extra: run.extra,
      different: run.different,
      unreadable: run.unreadable,
      repaired: run.repaired,
      pendingRecheck: run.pendingRecheck,
    },
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

export function runReport(run: VerifyRun, query: ReportQuery, page: { total: number; items: StoredDifference[] }): RunReport {
  const end = query.offset + page.items.length;
  return {
    ...runSummary(run),
    differences: {
      offset: query.offset,
      limit: query.limit,
      kind: query.kind ?? null,
      repaired: query.repaired ?? null,
      total: page.total,
      nextOffset: end < page.total ? end : null,
      items: page.items,
    },
  };
}
