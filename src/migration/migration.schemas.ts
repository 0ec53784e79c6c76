/**
 * The phase machine's operator API as zod schemas: request bodies and queries (validated by the pipe) and the
 * answers (OpenAPI, and the dashboard's types). Operator text goes through the same text rules as the
 * conversation API (PostgreSQL refuses NUL in the audit log).
 */
import { anyJson, body, documentedAs, intString, query, text, z } from '../http/schema-kit';
import { PHASES } from '../model/phases';
import { PLAN, stepName } from './domain/phase-plan';
import { ArchiveSummarySchema } from '../cleanup/cleanup.schemas';
import { SyncStatusSchema } from '../sync/sync.schemas';
import { TrafficChangePageSchema, TrafficChangeSchema, WeightsInEffectSchema } from '../traffic/traffic.schemas';

const reason = text({ max: 2000, notBlank: true, description: 'Why (audited)' });
// Checked against the plan where it is used (400 UNKNOWN_STEP, 409 STEP_CHANGED); the document names the plan's steps.
const step = documentedAs(text({ max: 100, min: 1 }), {
  type: 'string',
  enum: PLAN.map(stepName),
  description: 'A step of the plan, e.g. rollout-25',
});

export const AdvanceSchema = body({
  reason: reason.optional(),
  expectedStep: step.optional().meta({ description: 'The step the caller believes is current: 409 STEP_CHANGED when it is not' }),
  force: z.boolean({ error: 'must be a boolean' }).optional().meta({ description: 'Past failing gates; needs a reason and is audited' }),
  dryRun: z.boolean({ error: 'must be a boolean' }).optional().meta({ description: 'Evaluate the move and its gates, change nothing' }),
}).superRefine((b, ctx) => {
  if (b.force === true && b.reason === undefined) ctx.addIssue({ code: 'custom', message: 'is required with force', path: ['reason'] });
});

export const RollbackSchema = body({
  reason,
  to: step.optional().meta({ description: 'A named earlier step; default one step back' }),
  expectedStep: step.optional(),
  dryRun: z.boolean({ error: 'must be a boolean' }).optional(),
});

export const ReasonSchema = body({ reason: reason.optional() });

export const PageSchema = query({
  limit: intString(1, 500).default(50),
  offset: intString(0, 1_000_000_000).default(0),
});

// ---- answers

const phase = z.enum(PHASES);
const store = z.enum(['legacy', 'new']);

export const ModeSchema = z.object({ phase, sourceOfTruth: store, dualWrite: z.boolean(), readFrom: store, shadow: z.boolean() });

export const GateSchema = z.object({
  name: z.string(),
  pass: z.boolean(),
  value: z.union([z.number(), z.string(), z.boolean()]).nullable(),
  threshold: z.string(),
  forceable: z
    .literal(false)
    .optional()
    .meta({ description: 'false: an interlock that force cannot pass (absent: a failing gate can be forced, with a reason)' }),
});

const dateTime = () => z.string().meta({ format: 'date-time' });

/** src/migration/domain/gates.ts, GateProfile. */
export const GateProfileSchema = z
  .object({
    name: z.string(),
    shadowDwellMs: z.number(),
    stepDwellMs: z.number(),
    deprecationDwellMs: z.number(),
    maxCatchupLagMs: z.number(),
    maxVerificationAgeMs: z.number(),
    minShadowComparisons: z.number(),
    maxMismatchRate: z.number(),
    maxErrorRate: z.number(),
    minSuccessRate: z.number(),
    maxP99Ms: z.number(),
    minRequests: z.number(),
    maxFollowUpLagMs: z.number(),
  })
  .meta({ description: 'The gate thresholds in force' });

export const MigrationStatusSchema = z
  .object({
    phase,
    step: z.string(),
    weights: z.object({ newPercent: z.number(), legacyPercent: z.number(), provider: z.string(), inEffect: WeightsInEffectSchema }),
    sourceOfTruth: store,
    dualWrite: z.boolean(),
    readFrom: store,
    shadowComparison: z.boolean(),
    paused: z.boolean(),
    enteredAt: z.string().meta({ format: 'date-time' }),
    revision: z.int(),
    pendingMove: z
      .object({ action: z.string(), from: z.string(), to: z.string(), by: z.string().optional(), at: z.string().optional() })
      .nullable()
      .meta({ description: 'A move committed but not finished yet (its traffic change is under way)' }),
    flippedAt: z.string().meta({ format: 'date-time' }).nullable(),
    legacyDrainedSince: z.string().meta({ format: 'date-time' }).nullable(),
    next: z.object({ step: z.string().nullable(), gates: z.array(GateSchema), allPass: z.boolean() }),
    gateProfile: GateProfileSchema,
    analysisWindowMs: z.number(),
    autoProgression: z.object({ enabled: z.boolean(), failedChecks: z.int(), threshold: z.int() }),
    lastTrafficChange: TrafficChangeSchema.nullable(),
    followUps: z.object({ pending: z.int(), oldestAgeSeconds: z.number() }),
    lastFlip: z
      .object({
        at: z.string(),
        action: z.string(),
        to: z.string(),
        sourceOfTruth: z.string(),
        writePause: z
          .object({ waitedMs: z.number(), heldMs: z.number() })
          .nullable()
          .meta({ description: 'How long writes waited for those in flight, then were held while the cutover ran' }),
        cutover: anyJson(),
      })
      .nullable(),
    sync: SyncStatusSchema,
    shadow: z
      .object({
        windowMs: z.number(),
        compared: z.int(),
        mismatched: z.int(),
        lag: z.int(),
        rate: z.number().nullable(),
        lagShare: z.number().nullable(),
      })
      .meta({ description: 'Shadow comparisons in the analysis window (GET /migration/shadow has the detail)' }),
    lastVerification: z
      .object({ runId: z.int(), finishedAt: dateTime(), missing: z.int(), extra: z.int(), different: z.int() })
      .nullable()
      .meta({ description: 'The last completed verification run' }),
    strayLegacyWrites: z
      .object({ copied: z.int(), unreadable: z.int(), count: z.int(), ids: z.array(z.string()) })
      .meta({ description: 'Legacy writes since the flip that catch-up had to copy (or could not read); the first 100 ids' }),
    archive: ArchiveSummarySchema,
    requests: z
      .object({ requests: z.int(), errorRate: z.number().nullable(), successRate: z.number().nullable(), p99Ms: z.number().nullable() })
      .meta({ description: 'Application requests in the analysis window' }),
  })
  .meta({ description: 'The phase, the next move and its gates, and the summaries of sync, verification, shadow and the archive' });

interface MoveResultShape {
  dryRun: boolean;
  action: 'start' | 'advance' | 'rollback';
  from: string;
  to: string;
  weights: { before: number; after: number };
  mode: { before: z.input<typeof ModeSchema>; after: z.input<typeof ModeSchema> };
  gates: Array<z.input<typeof GateSchema>>;
  forced: boolean;
  trafficChange: z.input<typeof TrafficChangeSchema> | null;
  pending?: boolean;
  committed?: unknown;
  flippedBack?: MoveResultShape;
  archive?: unknown;
}

export const MoveResultSchema: z.ZodType<MoveResultShape> = z.object({
  dryRun: z.boolean(),
  action: z.enum(['start', 'advance', 'rollback']),
  from: z.string(),
  to: z.string(),
  weights: z.object({ before: z.number(), after: z.number() }),
  mode: z.object({ before: ModeSchema, after: ModeSchema }),
  gates: z.array(GateSchema),
  forced: z.boolean(),
  trafficChange: TrafficChangeSchema.nullable(),
  pending: z.boolean().optional().meta({ description: 'The traffic change is still under way (HTTP 202); status follows it' }),
  committed: anyJson('How long writes paused for the commit, and the cutover').optional(),
  get flippedBack() {
    return MoveResultSchema.optional();
  },
  archive: anyJson('The archive run started by the move into cleanup').optional(),
});

export const AuditEntrySchema = z.object({
  id: z.int(),
  at: z.string().meta({ format: 'date-time' }),
  actor: z.string(),
  action: z.string(),
  reason: z.string().nullable(),
  forced: z.boolean(),
  before: anyJson(),
  after: anyJson(),
  details: anyJson(),
});

export const AuditPageSchema = z.object({ total: z.int(), items: z.array(AuditEntrySchema) });

export const PausedSchema = z.object({ paused: z.boolean() });

export { TrafficChangePageSchema };

export type MigrationStatus = z.input<typeof MigrationStatusSchema>;
/** What GET /migration/status shows of the other capabilities (GateFiguresSource.summaries). */
export type StatusSummaries = Pick<MigrationStatus, 'sync' | 'shadow' | 'lastVerification' | 'strayLegacyWrites' | 'archive' | 'requests'>;
export type MoveResultAnswer = MoveResultShape;
