/**
 * The parts of the operator endpoints' answers the dashboard reads. Shapes the server declares in modules
 * free of Nest and driver imports are taken from there (type-only: nothing of the server is bundled); the
 * others mirror what the controllers answer.
 */
import type { GateResult } from '../../migration/domain/gates';
import type { MigrationMode } from '../../model/phases';
export type { AuditEntry } from '../../migration/domain/audit-entry';

export type { SyncStatus } from '../../sync/sync-status.service';
export type Gate = GateResult;
export type Mode = MigrationMode;

export interface Weights {
  legacy: number;
  new: number;
}

export interface TrafficChange {
  id: number;
  kind: string;
  requestedAt: string;
  provider: string;
  weights: Weights;
  before: Weights | null;
  state: string;
  changeId: string | null;
  attempts: number;
  completedAt: string | null;
  error: string | null;
}

export interface Status {
  phase: string;
  step: string;
  weights: { newPercent: number; legacyPercent: number; provider: string; inEffect: Weights | { error: string } | null };
  sourceOfTruth: 'legacy' | 'new';
  dualWrite: boolean;
  readFrom: 'legacy' | 'new';
  shadowComparison: boolean;
  paused: boolean;
  enteredAt: string;
  revision: number;
  pendingMove: { action: string; from: string; to: string; by?: string; at?: string } | null;
  flippedAt: string | null;
  next: { step: string | null; gates: Gate[]; allPass: boolean };
  gateProfile: { name: string };
  autoProgression: { enabled: boolean; failedChecks: number; threshold: number };
  lastTrafficChange: TrafficChange | null;
  /** Follow-ups not yet settled: how far the other store lags (in deprecation, legacy behind the source of truth). */
  followUps?: { pending: number; oldestAgeSeconds: number };
  /** The last move that changed the source of truth, and how long writes paused for its commit. */
  lastFlip?: {
    at: string;
    action: string;
    to: string;
    sourceOfTruth: 'legacy' | 'new';
    writePause: { waitedMs: number; heldMs: number } | null;
    cutover: { prepared?: { settled?: number; copied?: number; caughtUp?: number }; settled?: number; verified?: number } | null;
  } | null;
}

export interface MoveResult {
  dryRun: boolean;
  action: 'start' | 'advance' | 'rollback';
  from: string;
  to: string;
  weights: { before: number; after: number };
  mode: { before: Mode; after: Mode };
  gates: Gate[];
  forced: boolean;
  trafficChange: TrafficChange | null;
  pending?: boolean;
}

export interface VerifyRun {
  id: number;
  mode: string;
  status: string;
  phase: string;
  clean: boolean;
  requestedBy: string | null;
  error: string | null;
  progress: { percent: number | null; recordsCompared: number; ratePerSecond: number; etaSeconds: number | null };
  totals: { missing: number; extra: number; different: number; unreadable: number; repaired: number; pendingRecheck: number };
  createdAt: string;
  finishedAt: string | null;
}

export interface VerifyDifference {
  id: string;
  kind: string;
  [key: string]: unknown;
}

export interface VerifyReport extends VerifyRun {
  differences: { offset: number; limit: number; total: number; nextOffset: number | null; items: VerifyDifference[] };
}

export interface ShadowTimeline {
  windowMs: number;
  bucketMs: number;
  maxMismatchRate: number;
  buckets: Array<{ start: string; compared: number; mismatched: number; rate: number | null }>;
}

export type LagKind = 'converged' | 'not_copied' | 'not_caught_up' | 'follow_up';

export interface ShadowStatus {
  active: boolean;
  window: {
    ms: number;
    compared: number;
    mismatched: number;
    lag: number;
    /** Absent from an API older than the lag kinds. */
    lagByKind?: Record<LagKind, number>;
    lagShare?: number | null;
    errors: number;
    dropped: number;
    mismatchRate: number | null;
  };
}

/** POST /migration/sync/backfill */
export interface BackfillStart {
  runId: number;
  resumed: boolean;
  split: string;
  enqueued: number;
}

/** POST /migration/sync/catchup?wait=true: the pass's summary once done, or where its job is. */
export interface CatchupRun {
  jobId: string;
  state: string;
  /** The pass's counts, or why it did not run (`skipped`: paused, busy, stopping). */
  result?: { read: number; written: number; skipped: number; dead: number; exhausted: boolean } | { skipped: string };
  failedReason?: string;
}

export interface TopPaths {
  windowMs: number;
  items: Array<{ path: string; mismatches: number; lastSeen: string }>;
}

export interface Repairs {
  counts: Record<string, number>;
  dead: Array<{ jobId: string; conversationId: string; reason: string; failedReason: string; attempts: number; finishedAt: string | null }>;
}

export interface DeadLetters {
  items: Array<{ id: number; conversationId: string; source: string; reason: string; createdAt: string; redrives: number }>;
  nextCursor: string | null;
}


export interface Page<T> {
  total: number;
  items: T[];
}

export interface Archive {
  id?: number;
  state: string;
  verified: boolean;
  target: string | null;
  requestedBy?: string;
  finishedAt?: string | null;
  error?: string | null;
  problems?: Array<{ code: string; message?: string }> | null;
  progress?: { stage?: string; documents?: number; [key: string]: unknown } | null;
  manifest?: {
    documentCount: number;
    database: string;
    collection: string;
    content: { sha256: string; bytes: number };
    archive: { name: string; location: string; sha256: string; bytes: number };
    manifestName: string;
    finishedAt: string;
  } | null;
}

/** A message at the top of the page: a move's outcome, a refusal, a reload after a stale screen. */
export interface Notice {
  kind: 'ok' | 'info' | 'error';
  text: string;
  details?: string[];
}

/** A confirmation before an action: what changes, the gates, and the reason (required for a forced move). */
export interface DialogState {
  title: string;
  lines: string[];
  gates?: Gate[];
  /** `none`: the endpoint takes no reason (the sync's start and catch-up pass). */
  reason: 'required' | 'optional' | 'none';
  /** A choice the confirmation offers (verification's repair); changing it describes the action again. */
  option?: { label: string; checked: boolean; change(checked: boolean): Promise<void> };
  /** Where an optional reason goes, when not to the audit log. */
  reasonNote?: string;
  /** Why confirming cannot work now (a verification already running): said, and the confirm button is off. */
  blockedBy?: string;
  /** Failing gates may be overridden, with a reason, and the move is audited as forced. */
  forceable?: boolean;
  confirmLabel: string;
  target?: { options: string[]; value: string; change(to: string): Promise<void> };
  run(input: { reason: string; force: boolean }): Promise<Notice>;
}
