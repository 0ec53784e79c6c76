/** What the health endpoints answer, as zod schemas (OpenAPI). */
import { z } from '../http/schema-kit';

export const LiveSchema = z.object({ status: z.literal('ok') });

const check = z.object({ status: z.enum(['up', 'down']), error: z.string().optional() });

export const ReadySchema = z.object({
  status: z.enum(['ready', 'degraded', 'not_ready']),
  required: z.array(z.string()).meta({ description: 'What this pod needs to acknowledge writes in the current phase' }),
  degraded: z.array(z.string()),
  phase: z.string().nullable(),
  down: z.array(z.string()),
  checks: z.object({ postgres: check, legacy: check, redis: check }),
});
