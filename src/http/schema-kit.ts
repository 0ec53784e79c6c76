/**
 * The pieces every wing's input schemas are made of (zod), so that one schema validates a request, documents
 * it in OpenAPI and types the dashboard. The rules themselves stay in model/ (text-safety.ts, limits.ts): the
 * kit calls them, it does not restate them. Messages are the API's own ("must be ...", "is not an accepted
 * field") and every problem is reported at once (src/http/validation.ts turns the issues into `errors`).
 *
 * Three kinds of object: `body` (JSON), `query` and `params` (strings, as Express gives them). All three are
 * strict: an unknown key is refused, never dropped.
 */
import { z } from 'zod';
import type { FieldError } from '../common/errors';
import { codePointLength, unstorableReason } from '../model/text-safety';

export { z };

/** Marks a field error that a model check reported with its own path below the field (see `checked`). */
const FIELD_ROOT = '\u0000';

type WithDoc = { toJSONSchema?: () => unknown; parent?: unknown };

/** zod would still look for the documentation of the schema this one was copied from: it has its own now. */
function holdDoc<T extends z.ZodType>(schema: T, doc: () => unknown): T {
  const internals = schema._zod as WithDoc;
  internals.toJSONSchema = doc;
  delete internals.parent;
  return schema;
}

/**
 * What zod's JSON Schema output of `schema` should be (OpenAPI), where zod's own would say less or too much.
 * It is held by this very instance: wrap it (`optional`, `nullable`, `default`) as usual, but give a
 * description here rather than with `.meta()`, which copies the schema without it.
 */
export function documentedAs<T extends z.ZodType>(schema: T, json: Record<string, unknown>): T {
  return holdDoc(schema, () => ({ ...json }));
}

/**
 * Runs a model check (model/limits.ts) on a value that already has the right type; its field errors keep the
 * path the check gives below the field (`metadata["$where"]`, `metadata.a.b`).
 */
export function checked<T extends z.ZodType>(schema: T, check: (value: z.output<T>, field: string) => FieldError[]): T {
  const refined = schema.superRefine((value, ctx) => {
    for (const e of check(value, FIELD_ROOT)) {
      ctx.addIssue({ code: 'custom', message: e.message, params: { below: e.field.slice(FIELD_ROOT.length) } });
    }
  });
  // A refinement copies the schema: the copy keeps the documentation the original was given.
  const doc = (schema._zod as WithDoc).toJSONSchema;
  return doc ? holdDoc(refined, doc) : refined;
}

/** What `schema` documents of an input, as OpenAPI 3.0's JSON Schema (the document's components, the specs that check it). */
export function inputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  return json;
}

/** A type error's message, or "is required" when the field is missing. */
export function typeError(message: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : message);
}

/**
 * The part of the text rules (model/text-safety.ts) a JSON Schema pattern can state, for OpenAPI: no NUL. A lone
 * surrogate cannot be written in a pattern; a document that does not state a rule the API applies has clients (and
 * fuzzers) send what it refuses.
 */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
/** The same, and at least one character `trim()` keeps (JavaScript's white space and line terminators, U+FEFF among them). */
const NOT_BLANK_PATTERN = '^[^\\u0000]*[^\\s\\uFEFF\\u0000][^\\u0000]*$';

/** The text rules of every string the API stores or audits: no NUL, no lone surrogate, at most `max` characters. */
export function text(options: { max: number; min?: number; notBlank?: boolean; description?: string }) {
  const { max, min = 0, notBlank = false } = options;
  const schema = z.string({ error: typeError('must be a string') }).superRefine((s, ctx) => {
    const bad = unstorableReason(s);
    if (bad) ctx.addIssue({ code: 'custom', message: bad });
    const n = codePointLength(s);
    if (n > max || n < min || (notBlank && s.trim() === '')) {
      ctx.addIssue({
        code: 'custom',
        message: min > 0 || notBlank ? `must be ${Math.max(min, 1)}-${max} characters` : `must be at most ${max} characters`,
      });
    }
  });
  const json: Record<string, unknown> = { type: 'string', maxLength: max, pattern: notBlank ? NOT_BLANK_PATTERN : NO_NUL_PATTERN };
  if (min > 0 || notBlank) json.minLength = Math.max(min, 1);
  if (options.description) json.description = options.description;
  return documentedAs(schema, json);
}

/** An integer in a JSON body. */
export function int(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return z
    .int({ error: typeError(error) })
    .min(min, { error })
    .max(max, { error });
}

/**
 * An integer in a query string or path: digits only (no sign, exponent or hex), then in range. Documented as
 * the integer it is.
 */
export function intString(min: number, max: number, error = `must be an integer from ${min} to ${max}`) {
  const schema = z
    .string({ error: typeError(error) })
    .regex(/^\d{1,16}$/, { error })
    .transform(Number)
    .pipe(int(min, max));
  return documentedAs(schema, { type: 'integer', minimum: min, maximum: max });
}

/** `true` or `false` in a query string. */
export function boolString() {
  const schema = z.enum(['true', 'false'], { error: typeError('must be true or false') }).transform((v) => v === 'true');
  return documentedAs(schema, { type: 'boolean' });
}

/** One of a few words; the message lists them. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, message = `must be one of ${values.join(', ')}`) {
  return z.enum(values, { error: typeError(message) });
}

/** A free-form JSON object (checked further by the caller's model check). */
export function jsonObject(description?: string) {
  const schema = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    error: typeError('must be a JSON object'),
  });
  return documentedAs(schema, { type: 'object', additionalProperties: true, ...(description ? { description } : {}) });
}

/** A date-time the API answers with (a Date becomes its ISO-8601 string on the wire). Responses only. */
export function dateTime() {
  return documentedAs(
    z.custom<Date | string>(() => true),
    { type: 'string', format: 'date-time' },
  );
}

/** Anything: a response field whose shape belongs to another part (raw legacy documents, free-form progress). */
export function anyJson(description?: string) {
  return documentedAs(
    z.custom<unknown>(() => true),
    description ? { description } : {},
  );
}

type Shape = Record<string, z.ZodType>;

function strict<S extends Shape>(shape: S, unknownMessage: string) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? unknownMessage
        : issue.code === 'invalid_type'
          ? typeError('must be a JSON object')(issue)
          : undefined,
  });
}

/** A JSON request body. An absent body reads as `{}` where the schema accepts that (src/http/validation.ts). */
export function body<S extends Shape>(shape: S) {
  return strict(shape, 'is not an accepted field');
}

export function query<S extends Shape>(shape: S) {
  return strict(shape, 'is not an accepted query parameter');
}

export function params<S extends Shape>(shape: S) {
  return strict(shape, 'is not an accepted path parameter');
}

/** How a field of a response travels as JSON: what the dashboard receives (Dates as strings). */
export type Wire<T> = T extends Date
  ? string
  : T extends Array<infer U>
    ? Array<Wire<U>>
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;
