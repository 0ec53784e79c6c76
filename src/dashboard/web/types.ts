/**
 * The operator endpoints' answers as the dashboard reads them: generated (type-only, nothing of the server is
 * bundled) from the same zod schemas that document the API in OpenAPI, so the page and the API cannot drift.
 * `Wire` is how a value travels as JSON (a Date arrives as its ISO-8601 string).
 */
import type { z } from 'zod';
import type { Wire } from '../../http/schema-kit';
import type { ArchiveSummarySchema } from '../../cleanup/cleanup.schemas';
import type { AuditEntrySchema, GateSchema, MigrationStatusSchema, ModeSchema, MoveResultAnswer } from '../../migration/migration.schemas';
import type { RedrivenSchema, RepairsSchema } from '../../repair/repair.schemas';
import type { ShadowStatusSchema, ShadowTimelineSchema, TopPathsSchema } from '../../shadow/shadow.schemas';
import type {
  BackfillStartSchema,
  CatchupPassSchema,
  DeadLetterPageSchema,
  RedriveResultSchema,
  SyncStatusSchema,
} from '../../sync/sync.schemas';
import type { TrafficChangeSchema, WeightsSchema } from '../../traffic/traffic.schemas';
import type { DifferenceSchema, RunReportSchema, RunSummarySchema } from '../../verify/verify.schemas';

type Answer<S extends z.ZodType> = Wire<z.input<S>>;

export type Gate = Answer<typeof GateSchema>;
export type Mode = Answer<typeof ModeSchema>;
export type AuditEntry = Answer<typeof AuditEntrySchema>;
export type SyncStatus = Answer<typeof SyncStatusSchema>;
export type Weights = Answer<typeof WeightsSchema>;
export type TrafficChange = Answer<typeof TrafficChangeSchema>;
export type Status = Answer<typeof MigrationStatusSchema>;
export type MoveResult = Wire<MoveResultAnswer>;
export type VerifyRun = Answer<typeof RunSummarySchema>;
export type VerifyDifference = Answer<typeof DifferenceSchema>;
export type VerifyReport = Answer<typeof RunReportSchema>;
export type ShadowTimeline = Answer<typeof ShadowTimelineSchema>;
export type ShadowStatus = Answer<typeof ShadowStatusSchema>;
export type LagKind = keyof ShadowStatus['window']['lagByKind'];
/** POST /migration/sync/backfill */
export type BackfillStart = Answer<typeof BackfillStartSchema>;
/** POST /migration/sync/catchup?wait=true: the pass's summary once done, or where its job is. */
export type CatchupRun = Answer<typeof CatchupPassSchema>;
export type TopPaths = Answer<typeof TopPathsSchema>;
export type Repairs = Answer<typeof RepairsSchema>;
export type DeadLetters = Answer<typeof DeadLetterPageSchema>;
/** POST /migration/repairs/redrive */
export type RepairsRedriven = Answer<typeof RedrivenSchema>;
/** POST /migration/sync/dead-letters/redrive */
export type DeadLettersRedriven = Answer<typeof RedriveResultSchema>;
export type Archive = Answer<typeof ArchiveSummarySchema>;

/** The history and traffic pages. */
export interface Page<T> {
  total: number;
  items: T[];
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
