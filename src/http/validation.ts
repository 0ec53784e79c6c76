/**
 * The one validation pipe: a parameter typed with a zod DTO (nestjs-zod's `createZodDto`) is parsed by its
 * schema, and every problem becomes a field error of one 400 VALIDATION_FAILED (SPEC section 2). Unknown
 * fields are refused, not stripped (the schemas are strict): a typo in a client must not silently drop data.
 * Parameters without a zod DTO pass through untouched.
 */
import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { FieldError, ValidationFailedError } from '../common/errors';
import { indexPath, keyPath } from '../model/json-path';

const MAX_ERRORS = 100;
const MAX_UNKNOWN_KEYS = 20;

function pathOf(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const step of path) out = typeof step === 'number' ? indexPath(out, step) : keyPath(out, String(step));
  return out === '' ? root : out;
}

function join(parent: string, below: string, root: string): string {
  if (below === '') return parent;
  if (parent === root) return below.startsWith('.') ? below.slice(1) : below;
  return `${parent}${below}`;
}

/** zod's issues as the API's field errors: one per unknown key, model checks' own sub-paths kept, capped. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], root = 'body'): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const field = pathOf(issue.path, root);
    if (issue.code === 'unrecognized_keys') {
      // A body full of bad keys must not produce an answer larger than itself.
      for (const key of issue.keys.slice(0, MAX_UNKNOWN_KEYS))
        errors.push({ field: pathOf([...issue.path, key.slice(0, 100)], root), message: issue.message });
      if (issue.keys.length > MAX_UNKNOWN_KEYS)
        errors.push({ field, message: `${issue.keys.length - MAX_UNKNOWN_KEYS} more unknown fields` });
      continue;
    }
    const below = issue.code === 'custom' ? (issue.params as { below?: string } | undefined)?.below : undefined;
    errors.push({ field: below ? join(field, below, root) : field, message: issue.message });
  }
  if (errors.length > MAX_ERRORS)
    return [...errors.slice(0, MAX_ERRORS), { field: root, message: `${errors.length - MAX_ERRORS} more problems not listed` }];
  return errors;
}

/** Messages for what a schema did not word itself: the API's wording, not zod's. */
const errorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      if (issue.expected === 'object') return 'must be a JSON object';
      if (issue.expected === 'array') return 'must be an array';
      if (issue.expected === 'int') return 'must be an integer';
      return `must be a ${issue.expected}`;
    case 'too_big':
      return issue.origin === 'array' ? `must have at most ${issue.maximum} items` : `must be at most ${issue.maximum}`;
    case 'too_small':
      return issue.origin === 'array' ? `must have at least ${issue.minimum} items` : `must be at least ${issue.minimum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return 'is not an accepted field';
    // zod's own message for the rest (a schema's refinements word their own).
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
    default:
      return undefined;
  }
};

/** Parses `value` with `schema`, or throws the API's 400 naming every bad field under `root`. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root = 'body'): z.output<S> {
  const result = schema.safeParse(value, { error: errorMap });
  if (!result.success) throw new ValidationFailedError(fieldErrors(result.error.issues, root));
  return result.data;
}

interface ZodDtoClass {
  isZodDto: true;
  schema: z.ZodType;
}

function zodDto(metatype: unknown): ZodDtoClass | null {
  return typeof metatype === 'function' && (metatype as Partial<ZodDtoClass>).isZodDto === true
    ? (metatype as unknown as ZodDtoClass)
    : null;
}

@Injectable()
export class ZodInputPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const dto = zodDto(metadata.metatype);
    if (!dto) return value;
    const root = metadata.type === 'body' ? 'body' : metadata.type;
    // No body at all: an empty one where every field is optional (the operator actions), else "body: required".
    if (metadata.type === 'body' && value === undefined) {
      const empty = dto.schema.safeParse({});
      if (empty.success) return empty.data;
      throw new ValidationFailedError([{ field: 'body', message: 'must be a JSON object' }]);
    }
    return parseInput(dto.schema, value, root);
  }
}
