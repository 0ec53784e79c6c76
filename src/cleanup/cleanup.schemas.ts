/** The archive's operator API as zod schemas (validated by the pipe; OpenAPI; the dashboard's types). */
import { intString, params, z } from '../http/schema-kit';

export const ArchiveRunIdSchema = params({ id: intString(1, Number.MAX_SAFE_INTEGER, 'must be a positive integer') });

const dateTime = () => z.string().meta({ format: 'date-time' });

export const ManifestSchema = z.object({
  documentCount: z.int(),
  database: z.string(),
  collection: z.string(),
  content: z.object({ sha256: z.string(), bytes: z.number() }),
  archive: z.object({ name: z.string(), location: z.string(), sha256: z.string(), bytes: z.number() }),
  manifestName: z.string(),
  finishedAt: dateTime(),
});

/** How far a run has come (src/cleanup/archive-progress.ts). */
export const ArchiveProgressSchema = z.object({
  stage: z.enum(['archive', 'verify']),
  documents: z.number(),
  estimatedTotal: z.number().meta({ description: "The collection's estimated size when the stage began" }),
  percent: z.number().nullable(),
  contentBytes: z.number(),
  archiveBytes: z.number().meta({ description: 'Compressed bytes written so far (archive stage)' }),
  elapsedMs: z.number(),
  docsPerSecond: z.number(),
  bytesPerSecond: z.number(),
  etaSeconds: z.number().nullable(),
  done: z.boolean(),
});

export const ArchiveRunSchema = z.object({
  id: z.int(),
  state: z.enum(['queued', 'archiving', 'verifying', 'verified', 'failed']),
  verified: z.boolean(),
  requestedAt: dateTime(),
  requestedBy: z.string(),
  startedAt: dateTime().nullable(),
  finishedAt: dateTime().nullable(),
  target: z.string().nullable(),
  manifest: ManifestSchema.nullable(),
  problems: z.array(z.object({ code: z.string(), message: z.string().optional() })).nullable(),
  progress: ArchiveProgressSchema.nullable(),
  error: z.string().nullable(),
  attempts: z.int(),
  heartbeatAt: dateTime(),
});

/** The newest run, or (state not_started, no other field) that none has started yet. */
export const ArchiveSummarySchema = ArchiveRunSchema.partial().extend({
  state: z.enum(['not_started', 'queued', 'archiving', 'verifying', 'verified', 'failed']),
  verified: z.boolean(),
  target: z.string().nullable(),
});
