/** What the API answers about traffic changes (the intent log), as zod schemas: OpenAPI and the dashboard's types. */
import { z } from '../http/schema-kit';

export const WeightsSchema = z.object({ legacy: z.int(), new: z.int() });

export const TrafficChangeSchema = z.object({
  id: z.int(),
  kind: z.enum(['weights', 'retire_legacy']),
  requestedAt: z.string().meta({ format: 'date-time' }),
  provider: z.string(),
  weights: WeightsSchema,
  before: WeightsSchema.nullable(),
  state: z.enum(['intent', 'submitted', 'done', 'failed', 'undone']),
  changeId: z.string().nullable(),
  attempts: z.int(),
  completedAt: z.string().meta({ format: 'date-time' }).nullable(),
  error: z.string().nullable(),
  move: z.record(z.string(), z.unknown()).nullable().meta({ description: 'The phase move this change belongs to' }),
});

export const TrafficChangePageSchema = z.object({ total: z.int(), items: z.array(TrafficChangeSchema) });

/** What the router reads back, or why it could not. */
export const WeightsInEffectSchema = z.union([WeightsSchema, z.object({ error: z.string() })]).nullable();
