/**
 * Completes each operation of the generated document with the error responses the HTTP layer itself gives,
 * whatever the controller: 400 for bad parameters or bodies (422 for a value a store refuses), 413 and 415 for
 * bodies, 401 and 429 where a token is needed, 503 where a store is read. Controllers declare the rest (403, 404,
 * 409, 412, 422) with ApiErrors.
 */
import type { OpenAPIObject } from '@nestjs/swagger';
import { inputJsonSchema } from './schema-kit';
import { ErrorBodySchema } from './openapi';

type Operation = { parameters?: unknown[]; requestBody?: unknown; security?: unknown[]; responses: Record<string, unknown> };

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const DESCRIPTIONS: Record<string, string> = {
  '400': 'The request is not valid: every bad field is named in `errors`',
  '401': 'No valid bearer token',
  '413': 'The request body exceeds 1 MiB',
  '415': 'A request body must be application/json',
  '422': 'A store refused a value of this request (STORE_REFUSED, naming the store)',
  '429': "Over the token's request rate (Retry-After)",
  '503': 'A store or Redis cannot be reached right now (Retry-After)',
};
/** Answers without a store behind them. */
const NO_STORE = new Set(['/health/live']);

export function completeErrorResponses(doc: OpenAPIObject): OpenAPIObject {
  const schemas = ((doc.components ??= {}).schemas ??= {});
  if (!schemas.ErrorBody) {
    schemas.ErrorBody = inputJsonSchema(ErrorBodySchema);
  }
  const errorResponse = (status: string) => ({
    description: DESCRIPTIONS[status],
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
  });
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      const add = (status: string) => (op.responses[status] ??= errorResponse(status));
      const hasBody = method === 'post' || method === 'put' || method === 'patch';
      // A value the schemas let through that a store still refuses is 422, not 500 (common/store-refusals.ts).
      if ((op.parameters?.length ?? 0) > 0 || hasBody) ['400', '422'].forEach(add);
      if (hasBody) ['413', '415'].forEach(add);
      if ((op.security?.length ?? 0) > 0) ['401', '429'].forEach(add);
      if (!NO_STORE.has(path)) add('503');
    }
  }
  return doc;
}
