/**
 * The sync operator API as zod schemas: request bodies and queries (validated by the pipe) and the answers
 * (OpenAPI, and the dashboard's types). An absent body is an empty one (every field here is optional).
 */
import { anyJson, body, boolString, int, intString, oneOf, query, text, z } from '../http/schema-kit';

export const SyncPauseSchema = body({ reason: text({ max: 500, description: 'Why (kept with the pause)' }).optional() });

export const ThrottleSchema = body({
  maxDocsPerSecond: int(0, 100_000_000)
    .nullable()
    .meta({ description: 'Documents per second over all workers; 0 for none, null for the configured SYNC_MAX_DOCS_PER_SECOND' }),
});

export const RedriveSchema = body({
  ids: z
    .array(int(1, Number.MAX_SAFE_INTEGER), { error: 'must be an array of 1 to 10000 dead-letter ids' })
    .min(1, { error: 'must be an array of 1 to 10000 dead-letter ids' })
    .max(10_000, { error: 'must be an array of 1 to 10000 dead-letter ids' })
    .optional(),
  limit: int(1, 100_000).optional().meta({ description: 'default: as many as ids, else 1000' }),
});

export const DeadLetterQuerySchema = query({
  status: oneOf(['open', 'resolved', 'all'], 'must be open, resolved or all').default('open'),
  limit: intString(1, 1000).default(100),
  cursor: intString(0, Number.MAX_SAFE_INTEGER).optional().meta({ description: 'nextCursor of the previous page' }),
});

export const CatchupQuerySchema = query({
  wait: boolString().optional().meta({ description: 'Wait up to 30 s for the pass and answer its result' }),
});

// ---- answers

const dateTime = () => z.string().meta({ format: 'date-time' });

export const SyncStatusSchema = z.object({
  backfill: z
    .object({
      runId: z.int(),
      status: z.string(),
      startedAt: dateTime(),
      finishedAt: dateTime().nullable(),
      batchSize: z.int(),
      splitComplete: z.boolean(),
      split: z
        .object({ state: z.enum(['queued', 'scanning', 'complete']), idsScanned: z.number().nullable(), estimate: z.number().nullable() })
        .optional(),
      ranges: z.object({ total: z.int(), done: z.int(), running: z.int(), pending: z.int() }),
      counts: z.object({ expected: z.number(), read: z.number(), written: z.number(), skipped: z.number(), dead: z.number() }),
      percent: z.number(),
      rate: z.object({ docsPerSecond: z.number(), windowSeconds: z.number() }),
      etaSeconds: z.number().nullable(),
      jobs: z.record(z.string(), z.number()).nullable(),
    })
    .nullable(),
  paused: z.boolean(),
  pause: z.object({ by: z.string().optional(), reason: z.string().optional(), at: z.string().optional() }).nullable(),
  throttle: z.object({ maxDocsPerSecond: z.number(), source: z.enum(['config', 'operator']) }),
  catchup: z.object({
    watermark: z.object({ updated: z.string(), id: z.string().nullable() }).nullable(),
    lagSeconds: z.number().nullable(),
    newIdsAfter: z.string().nullable(),
    intervalMs: z.number(),
    overlapMs: z.number(),
    lastPass: anyJson('The last catch-up pass: counts and times'),
  }),
  deadLetters: z.object({ open: z.int(), resolved: z.int() }),
});

export const BackfillStartSchema = z.object({
  runId: z.int(),
  resumed: z.boolean(),
  splitComplete: z.boolean(),
  split: z.enum(['queued', 'scanning', 'complete']),
  ranges: z.int(),
  enqueued: z.int(),
});

export const CatchupPassSchema = z.object({
  jobId: z.string().optional(),
  state: z.string(),
  result: z
    .union([
      z.object({
        at: z.string(),
        trigger: z.string(),
        read: z.int(),
        written: z.int(),
        skipped: z.int(),
        dead: z.int(),
        batches: z.int(),
        exhausted: z.boolean(),
      }),
      z.object({ skipped: z.enum(['paused', 'busy', 'stopping']) }),
    ])
    .optional()
    .meta({
      description:
        'The pass: documents read, written, skipped (version guard) and dead-lettered, and whether it reached the end; or why it did not run',
    }),
  failedReason: z.string().optional(),
});

export const SyncPausedSchema = z.object({ paused: z.boolean(), woken: z.int().optional() });

export const ThrottleAnswerSchema = SyncStatusSchema.shape.throttle;

export const DeadLetterPageSchema = z.object({
  items: z.array(
    z.object({
      id: z.int(),
      conversationId: z.string(),
      source: z.enum(['backfill', 'catchup', 'redrive']),
      reason: z.string(),
      raw: z.record(z.string(), z.unknown()).meta({ description: 'The document as stored, in Extended JSON' }),
      createdAt: dateTime(),
      resolvedAt: dateTime().nullable(),
      resolution: z.enum(['written', 'already_current', 'gone']).nullable(),
      redrives: z.int(),
      lastRedriveAt: dateTime().nullable(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const RedriveResultSchema = z.object({
  redriven: z.int(),
  written: z.int(),
  alreadyCurrent: z.int(),
  stillUnreadable: z.int(),
  gone: z.int(),
  open: z.int(),
});

export type SyncStatusAnswer = z.input<typeof SyncStatusSchema>;
