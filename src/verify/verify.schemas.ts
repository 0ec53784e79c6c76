/**
 * What operators send to the verification endpoints (and the CLI), and what they get back, as zod schemas:
 * unknown fields and out-of-range values are a 400 naming each field, never silently dropped or clamped.
 */
import { body, boolString, int, intString, oneOf, params, query, text, z } from '../http/schema-kit';

export const REPORT_KINDS = ['missing', 'extra', 'different', 'unreadable'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export const VERIFY_DEFAULTS = { repair: false, chunkSize: 1000, recheckDelayMs: 5000, pauseMs: 0, segments: null } as const;

/** The body of `POST /migration/verify`; an absent body means every default. */
export const VerifyOptionsSchema = body({
  repair: z
    .boolean({ error: 'must be a boolean' })
    .default(VERIFY_DEFAULTS.repair)
    .meta({ description: 'Copy each difference from the source of truth, then verify it again' }),
  chunkSize: int(10, 10_000)
    .default(VERIFY_DEFAULTS.chunkSize)
    .meta({ description: 'Records per chunk and side: the unit of reading, hashing and checkpointing' }),
  recheckDelayMs: int(0, 600_000)
    .default(VERIFY_DEFAULTS.recheckDelayMs)
    .meta({ description: 'How long a differing record waits before it is read again' }),
  pauseMs: int(0, 60_000).default(VERIFY_DEFAULTS.pauseMs).meta({ description: 'Pause after each chunk' }),
  segments: int(1, 64).nullable().default(VERIFY_DEFAULTS.segments).meta({
    description:
      'How many `_id` segments the walk is split into, for workers to walk in parallel (null: one per ten chunks of the rows in the new store, at most 16)',
  }),
  reason: text({ max: 500 }).nullable().default(null),
});

export type VerifyOptions = z.output<typeof VerifyOptionsSchema>;

/** `?offset=&limit=&kind=&repaired=` of `GET /migration/verify/:runId`. */
export const ReportQuerySchema = query({
  offset: intString(0, Number.MAX_SAFE_INTEGER).default(0),
  limit: intString(1, 1000).default(100),
  kind: oneOf(REPORT_KINDS).optional(),
  repaired: boolString().optional().meta({ description: 'Only repaired (true) or only still differing (false) records' }),
});

export type ReportQuery = z.output<typeof ReportQuerySchema>;

/** `?limit=` of `GET /migration/verify`. */
export const RunListQuerySchema = query({ limit: intString(1, 100).default(20) });

export const RunIdSchema = params({ runId: intString(1, Number.MAX_SAFE_INTEGER, 'must be a positive integer') });

// ---- answers

const dateTime = () => z.string().meta({ format: 'date-time' });

export const RunSummarySchema = z.object({
  id: z.int(),
  mode: z.enum(['report', 'repair']),
  status: z.string(),
  phase: z.string(),
  clean: z.boolean(),
  requestedBy: z.string().nullable(),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  settings: z.object({ chunkSize: z.int(), recheckDelayMs: z.int(), pauseMs: z.int() }),
  progress: z.object({
    chunksDone: z.number(),
    chunksDiffering: z.number(),
    recordsCompared: z.number(),
    recordsEstimate: z.number(),
    percent: z.number().nullable(),
    ratePerSecond: z.number(),
    etaSeconds: z.number().nullable(),
    cursor: z.string().nullable().meta({ description: 'Every ObjectId up to this one is walked; null once the walk is over' }),
    elapsedSeconds: z.number(),
    segments: z.object({
      total: z.int(),
      done: z.int(),
      active: z.int().meta({ description: 'Being walked by a worker now' }),
      workers: z.int().meta({ description: 'Workers that finished a segment of this run or walk one now' }),
    }),
  }),
  totals: z.object({
    missing: z.int(),
    extra: z.int(),
    different: z.int(),
    unreadable: z.int(),
    repaired: z.int(),
    pendingRecheck: z.int(),
  }),
  createdAt: dateTime(),
  startedAt: dateTime().nullable(),
  finishedAt: dateTime().nullable(),
});

export const DifferenceSchema = z.object({
  conversationId: z.string(),
  kind: z.enum(REPORT_KINDS),
  paths: z.array(z.string()),
  reason: z.string().nullable(),
  legacyVersion: z.int().nullable(),
  newVersion: z.int().nullable(),
  repaired: z.boolean(),
});

export const RunReportSchema = RunSummarySchema.extend({
  differences: z.object({
    offset: z.int(),
    limit: z.int(),
    kind: z.string().nullable(),
    repaired: z.boolean().nullable(),
    total: z.int(),
    nextOffset: z.int().nullable(),
    items: z.array(DifferenceSchema),
  }),
});

export const RunListSchema = z.object({ items: z.array(RunSummarySchema) });

export type RunSummaryAnswer = z.input<typeof RunSummarySchema>;
export type RunReportAnswer = z.input<typeof RunReportSchema>;
