/** The repair queue's operator API as zod schemas (validated by the pipe; OpenAPI; the dashboard's types). */
import { intString, query, z } from '../http/schema-kit';

export const RepairListQuerySchema = query({ offset: intString(0, 1_000_000_000).default(0), limit: intString(1, 1000).default(100) });

export const RepairsSchema = z.object({
  counts: z.record(z.string(), z.number()).meta({ description: 'Jobs by state: waiting, active, delayed, failed, completed' }),
  dead: z.array(
    z.object({
      jobId: z.string(),
      conversationId: z.string(),
      reason: z.string(),
      failedReason: z.string(),
      attempts: z.int(),
      finishedAt: z.string().meta({ format: 'date-time' }).nullable(),
    }),
  ),
});

export const RedrivenSchema = z.object({ redriven: z.int() });
