/**
 * The OpenAPI document's shared parts: the error shape every operation answers with (SPEC section 2) and the
 * decorator that lists an operation's error statuses with it. The document itself is generated from the
 * wings' zod schemas (nestjs-zod DTOs) by http-setup.ts.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { createZodDto, type ZodDto } from 'nestjs-zod';
import { z } from './schema-kit';

export const ErrorBodySchema = z
  .object({
    statusCode: z.int(),
    code: z
      .string()
      .meta({ description: 'Stable upper-case identifier, e.g. VALIDATION_FAILED, NOT_FOUND, VERSION_CONFLICT, GATE_FAILED' }),
    message: z.string(),
    errors: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .meta({ description: 'Every bad field as {field, message}; for GATE_FAILED every failing gate with its value and threshold' }),
    requestId: z.string(),
  })
  .meta({ description: 'The one error shape (SPEC section 2)' });

type JsonSchema = Record<string, unknown>;

/**
 * zod writes a nullable plain type as `type: ["string", "null"]` (JSON Schema 2020-12), which @nestjs/swagger
 * misreads as an array of strings. OpenAPI 3.0 says `nullable: true`, and a union of types is an `anyOf`.
 */
export function openApi30Types(schema: JsonSchema, top = false): JsonSchema {
  if (Array.isArray(schema.type)) {
    const types = (schema.type as string[]).filter((t) => t !== 'null');
    if (types.length < (schema.type as string[]).length) schema.nullable = true;
    if (types.length === 1) schema.type = types[0];
    else {
      schema.anyOf = types.map((type) => ({ type }));
      // A property's type must be a string for Nest; nestjs-zod's clean-up removes this empty one.
      if (top) Object.assign(schema, { type: '', 'x-nestjs_zod-empty-type': true });
      else delete schema.type;
    }
  }
  for (const key of ['items', 'additionalProperties', 'not']) {
    const sub = schema[key];
    if (sub && typeof sub === 'object' && !Array.isArray(sub)) openApi30Types(sub as JsonSchema);
  }
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    if (Array.isArray(schema[key])) for (const sub of schema[key] as JsonSchema[]) openApi30Types(sub);
  }
  for (const key of ['properties', '$defs', 'x-nestjs_zod-$defs']) {
    const subs = schema[key];
    if (subs && typeof subs === 'object') for (const sub of Object.values(subs as Record<string, JsonSchema>)) openApi30Types(sub);
  }
  return schema;
}

/**
 * A DTO class made from a zod schema (nestjs-zod), whose OpenAPI description says what the schema says: the
 * one way this service makes DTOs, so a request is validated and documented by the same schema.
 */
export function apiDto<S extends z.ZodType>(schema: S): ZodDto<S, false> {
  // Typed loosely here only: the class returned has the DTO type of `schema`.
  const Base = createZodDto(schema) as unknown as new () => object;
  const factory = (Base as unknown as { _OPENAPI_METADATA_FACTORY(): Record<string, JsonSchema> })._OPENAPI_METADATA_FACTORY.bind(Base);
  return class extends Base {
    static _OPENAPI_METADATA_FACTORY() {
      const properties = factory();
      for (const property of Object.values(properties)) openApi30Types(property, true);
      return properties;
    }
  } as ZodDto<S, false>;
}

export class ErrorBody extends apiDto(ErrorBodySchema) {}

const WHY: Record<number, string> = {
  400: 'The request is not valid: every bad field is named in `errors` (VALIDATION_FAILED, MALFORMED_BODY)',
  401: 'No valid bearer token (UNAUTHORIZED)',
  403: 'The token may not do this: an application token on an operator endpoint (FORBIDDEN)',
  404: 'Not found (NOT_FOUND)',
  409: 'Conflicts with the current state (e.g. GATE_FAILED, STEP_CHANGED, WRITE_CONFLICT, IDEMPOTENT_REQUEST_IN_PROGRESS, IDEMPOTENT_RESPONSE_UNAVAILABLE)',
  412: 'If-Match names a version that is no longer current (VERSION_CONFLICT)',
  413: 'The request body exceeds 1 MiB (PAYLOAD_TOO_LARGE)',
  415: 'A request body must be application/json (UNSUPPORTED_MEDIA_TYPE)',
  422: 'Well-formed but refused (e.g. STORE_REFUSED: a store cannot hold the document; the same Idempotency-Key with another body)',
  429: "Over the token's request rate (RATE_LIMITED, with Retry-After)",
  503: 'A store or Redis cannot be reached, or a phase change holds the writes too long (STORE_UNAVAILABLE, SERVICE_UNAVAILABLE, CUTOVER_IN_PROGRESS; Retry-After)',
};

/** The statuses an operation (or every operation of a controller) may answer with the error shape. */
export function ApiErrors(...statuses: number[]): ClassDecorator & MethodDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: WHY[status] ?? 'Error', type: ErrorBody })));
}

/** What every authenticated endpoint may answer, whatever it does. */
export const AUTHENTICATED_ERRORS = [401, 429, 503] as const;
/** ... and an operator endpoint also 403 to an application token. */
export const OPERATOR_ERRORS = [401, 403, 429, 503] as const;
/** ... and one that takes a JSON body. */
export const BODY_ERRORS = [400, 413, 415] as const;
