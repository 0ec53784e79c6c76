/**
 * The operator endpoints' inputs, checked by hand like the conversation API's: every problem at once,
 * unknown fields rejected. An absent body is an empty one (these bodies are all optional).
 */
import { FieldError, ValidationFailedError } from '../common/errors';
import type { DeadLetterStatus } from './dead-letters/dead-letter.repository';

function fieldsOf(body: unknown, allowed: readonly string[]): { fields: Record<string, unknown>; errors: FieldError[] } {
  if (body === undefined || body === null) return { fields: {}, errors: [] };
  if (typeof body !== 'object' || Array.isArray(body)) throw new ValidationFailedError([{ field: 'body', message: 'must be a JSON object' }]);
  const fields = body as Record<string, unknown>;
  const errors = Object.keys(fields)
    .filter((k) => !allowed.includes(k))
    .slice(0, 20)
    .map((k) => ({ field: k.slice(0, 100), message: 'is not an accepted field' }));
  return { fields, errors };
}

function done<T>(errors: FieldError[], value: T): T {
  if (errors.length > 0) throw new ValidationFailedError(errors);
  return value;
}

function int(value: unknown, field: string, min: number, max: number, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    errors.push({ field, message: `must be an integer from ${min} to ${max}` });
    return undefined;
  }
  return n;
}

export function parsePause(body: unknown): { reason?: string } {
  const { fields, errors } = fieldsOf(body, ['reason']);
  if (fields.reason !== undefined && (typeof fields.reason !== 'string' || fields.reason.length > 500)) {
    errors.push({ field: 'reason', message: 'must be a string of at most 500 characters' });
  }
  return done(errors, { reason: fields.reason as string | undefined });
}

export function parseThrottle(body: unknown): { maxDocsPerSecond: number | null } {
  const { fields, errors } = fieldsOf(body, ['maxDocsPerSecond']);
  if (!('maxDocsPerSecond' in fields)) errors.push({ field: 'maxDocsPerSecond', message: 'is required (a number of documents per second, 0 for none, or null for the configured ceiling)' });
  const value = fields.maxDocsPerSecond === null ? null : int(fields.maxDocsPerSecond, 'maxDocsPerSecond', 0, 100_000_000, errors);
  return done(errors, { maxDocsPerSecond: value ?? null });
}

export function parseRedrive(body: unknown): { ids?: number[]; limit: number } {
  const { fields, errors } = fieldsOf(body, ['ids', 'limit']);
  let ids: number[] | undefined;
  if (fields.ids !== undefined) {
    if (!Array.isArray(fields.ids) || fields.ids.length === 0 || fields.ids.length > 10_000) {
      errors.push({ field: 'ids', message: 'must be an array of 1 to 10000 dead-letter ids' });
    } else {
      ids = fields.ids.map((v, i) => int(v, `ids[${i}]`, 1, Number.MAX_SAFE_INTEGER, errors) ?? 0).filter((v) => v > 0);
      errors.splice(20);
    }
  }
  const limit = int(fields.limit, 'limit', 1, 100_000, errors) ?? ids?.length ?? 1000;
  return done(errors, { ids, limit });
}

export function parseDeadLetterQuery(query: Record<string, unknown>): { status: DeadLetterStatus; limit: number; after?: number } {
  const { fields, errors } = fieldsOf(query, ['status', 'limit', 'cursor']);
  const status = (fields.status ?? 'open') as DeadLetterStatus;
  if (!['open', 'resolved', 'all'].includes(status)) errors.push({ field: 'status', message: 'must be open, resolved or all' });
  const limit = int(fields.limit, 'limit', 1, 1000, errors) ?? 100;
  const after = int(fields.cursor, 'cursor', 0, Number.MAX_SAFE_INTEGER, errors);
  return done(errors, { status, limit, after });
}

export function parseCatchupQuery(query: Record<string, unknown>): { wait: boolean } {
  const { fields, errors } = fieldsOf(query, ['wait']);
  if (fields.wait !== undefined && fields.wait !== 'true' && fields.wait !== 'false') errors.push({ field: 'wait', message: 'must be true or false' });
  return done(errors, { wait: fields.wait === 'true' });
}
