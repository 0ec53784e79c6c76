/** The rate-limit operator API as zod schemas (validated by the pipe; OpenAPI). */
import { body, documentedAs, params, text, z } from '../http/schema-kit';

export const TokenNameSchema = params({
  tokenName: documentedAs(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, { error: 'must be 1-100 characters of A-Z a-z 0-9 . _ -' }), {
    type: 'string',
    pattern: '^[A-Za-z0-9._-]{1,100}$',
    description: "The token's name (name:token in APP_API_TOKENS / OPERATOR_API_TOKENS)",
  }),
});

export const OverrideSchema = body({
  rps: z
    .number({ error: 'must be a number from 0 (unlimited) to 1000000' })
    .min(0, { error: 'must be a number from 0 (unlimited) to 1000000' })
    .max(1_000_000, { error: 'must be a number from 0 (unlimited) to 1000000' })
    .meta({ description: 'Requests per second; 0 = unlimited' }),
  reason: text({ max: 2000 }).optional(),
});

export const OverrideAnswerSchema = z.object({
  tokenName: z.string(),
  rps: z.number(),
  setBy: z.string(),
  reason: z.string().nullable(),
  setAt: z.string().meta({ format: 'date-time' }),
});

export const OverrideListSchema = z.object({ overrides: z.array(OverrideAnswerSchema) });
