/**
 * The shadow comparison's operator queries and answers as zod schemas (validated by the pipe; OpenAPI; the
 * dashboard's types). The answers name the fields the dashboard and the gates read; the rest is open.
 */
import { documentedAs, intString, oneOf, query, text, z } from '../http/schema-kit';
import { LAG_KINDS } from './domain/lag-kinds';
import { parseIsoTimestamp } from '../model/timestamp';

const MAX_WINDOW_MS = 30 * 24 * 3_600_000;

export const ShadowStatusQuerySchema = query({
  windowMs: intString(1, MAX_WINDOW_MS).optional().meta({ description: 'Sliding window (default SHADOW_WINDOW_MS)' }),
});

export const TimelineQuerySchema = query({
  windowMs: intString(1000, MAX_WINDOW_MS).optional().meta({ description: 'default SHADOW_WINDOW_MS' }),
  buckets: intString(1, 500).default(60),
});

export const TopPathsQuerySchema = query({
  windowMs: intString(1, MAX_WINDOW_MS).optional().meta({ description: 'default SHADOW_WINDOW_MS' }),
  limit: intString(1, 100).default(10),
});

const since = documentedAs(
  z.string({ error: 'must be an ISO-8601 date-time with offset' }).transform((s, ctx) => {
    const t = parseIsoTimestamp(s);
    if (t.ok) return t.date;
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 date-time with offset' });
    return z.NEVER;
  }),
  { type: 'string', format: 'date-time' },
);

export const MismatchQuerySchema = query({
  endpoint: oneOf(['get', 'list'], 'must be get or list').optional(),
  kind: oneOf(['stores', 'http'], 'must be stores or http').optional(),
  path: text({ max: 500, min: 1, description: 'e.g. title, metadata.a, messages[*].content (and beneath it)' }).optional(),
  since: since.optional(),
  limit: intString(1, 200).default(50),
  // A mismatch id (bigint): the cursor this API issued, never beyond PostgreSQL's bigint.
  cursor: documentedAs(
    z
      .string()
      .regex(/^\d{1,19}$/, { error: 'must be a cursor this API issued' })
      .refine((v) => !/^\d{1,19}$/.test(v) || BigInt(v) <= 9_223_372_036_854_775_807n, { error: 'must be a cursor this API issued' }),
    { type: 'string', pattern: '^[0-9]{1,19}$' },
  )
    .optional()
    .meta({ description: 'nextCursor of the previous page' }),
});

// ---- answers

const rate = z.number().nullable();
const dateTime = () => z.string().meta({ format: 'date-time' });

export const ShadowStatusSchema = z.object({
  phase: z.string(),
  active: z.boolean(),
  window: z.object({
    ms: z.number(),
    compared: z.number(),
    mismatched: z.number(),
    lag: z.number(),
    /** How the lag is explained (src/shadow/domain/lag.ts): converged, not_copied, not_caught_up, follow_up. */
    lagByKind: z.record(z.enum(LAG_KINDS), z.number()),
    lagShare: rate,
    errors: z.number(),
    dropped: z.number(),
    mismatchRate: rate,
  }),
});

export const ShadowTimelineSchema = z.object({
  windowMs: z.number(),
  bucketMs: z.number(),
  maxMismatchRate: z.number(),
  buckets: z.array(z.object({ start: dateTime(), compared: z.number(), mismatched: z.number(), rate })),
});

export const TopPathsSchema = z.object({
  windowMs: z.number(),
  items: z.array(z.object({ path: z.string(), mismatches: z.number(), lastSeen: dateTime() })),
});

export const MismatchPageSchema = z.object({
  items: z.array(z.object({ id: z.string(), detectedAt: dateTime() })),
  nextCursor: z.string().nullable(),
});
