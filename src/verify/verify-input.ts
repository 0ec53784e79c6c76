/**
 * What operators send to the verification endpoints (and the CLI), checked strictly: unknown fields and
 * out-of-range values are a 400 naming each field, never silently dropped or clamped.
 */
import { FieldError, ValidationFailedError } from '../common/errors';
import { isPlainObject } from '../model/json-value';

export const REPORT_KINDS = ['missing', 'extra', 'different', 'unreadable'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface VerifyOptions {
  /** Copy each difference from the source of truth, then verify those ids again. */
  repair: boolean;
  /** Records per chunk and side: the unit of reading, hashing and checkpointing. */
  chunkSize: number;
  /** How long a differing record waits before it is read again and, if it still differs, reported. */
  recheckDelayMs: number;
  /** Pause after each chunk, to leave the stores breathing room under production load. */
  pauseMs: number;
  reason: string | null;
}

export const VERIFY_DEFAULTS: Omit<VerifyOptions, 'reason'> = { repair: false, chunkSize: 1000, recheckDelayMs: 5000, pauseMs: 0 };

const LIMITS = {
  chunkSize: [10, 10_000],
  recheckDelayMs: [0, 600_000],
  pauseMs: [0, 60_000],
} as const;

function done<T>(errors: FieldError[], value: T): T {
  if (errors.length > 0) throw new ValidationFailedError(errors);
  return value;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], what: string): FieldError[] {
  return Object.keys(obj)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({ field: k.slice(0, 100), message: `is not an accepted ${what}` }));
}

/** The body of `POST /migration/verify`; an absent body means every default. */
export function parseVerifyOptions(body: unknown): VerifyOptions {
  if (body === undefined || body === null || (isPlainObject(body) && Object.keys(body).length === 0)) return { ...VERIFY_DEFAULTS, reason: null };
  if (!isPlainObject(body)) throw new ValidationFailedError([{ field: 'body', message: 'must be a JSON object' }]);
  const errors = unknownKeys(body, ['repair', 'chunkSize', 'recheckDelayMs', 'pauseMs', 'reason'], 'field');
  const out: VerifyOptions = { ...VERIFY_DEFAULTS, reason: null };
  if (body.repair !== undefined) {
    if (typeof body.repair !== 'boolean') errors.push({ field: 'repair', message: 'must be a boolean' });
    else out.repair = body.repair;
  }
  for (const key of Object.keys(LIMITS) as Array<keyof typeof LIMITS>) {
    const value = body[key];
    if (value === undefined) continue;
    const [min, max] = LIMITS[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      errors.push({ field: key, message: `must be an integer from ${min} to ${max}` });
    } else {
      out[key] = value;
    }
  }
  if (body.reason !== undefined) {
    if (typeof body.reason !== 'string' || body.reason.length > 500) errors.push({ field: 'reason', message: 'must be a string of at most 500 characters' });
    else out.reason = body.reason;
  }
  return done(errors, out);
}

export interface ReportQuery {
  offset: number;
  limit: number;
  kind?: ReportKind;
  /** Only repaired (true) or only still differing (false) records. */
  repaired?: boolean;
}

function integer(value: unknown, field: string, min: number, max: number, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
    errors.push({ field, message: `must be an integer from ${min} to ${max}` });
    return undefined;
  }
  return Number(value);
}

/** `?offset=&limit=&kind=&repaired=` of `GET /migration/verify/:runId`. */
export function parseReportQuery(query: Record<string, unknown>): ReportQuery {
  const errors = unknownKeys(query, ['offset', 'limit', 'kind', 'repaired'], 'query parameter');
  const out: ReportQuery = {
    offset: integer(query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER, errors) ?? 0,
    limit: integer(query.limit, 'limit', 1, 1000, errors) ?? 100,
  };
  if (query.kind !== undefined) {
    if (typeof query.kind !== 'string' || !(REPORT_KINDS as readonly string[]).includes(query.kind)) {
      errors.push({ field: 'kind', message: `must be one of ${REPORT_KINDS.join(', ')}` });
    } else {
      out.kind = query.kind as ReportKind;
    }
  }
  if (query.repaired !== undefined) {
    if (query.repaired !== 'true' && query.repaired !== 'false') errors.push({ field: 'repaired', message: 'must be true or false' });
    else out.repaired = query.repaired === 'true';
  }
  return done(errors, out);
}

/** `?limit=` of `GET /migration/verify`. */
export function parseListQuery(query: Record<string, unknown>): { limit: number } {
  const errors = unknownKeys(query, ['limit'], 'query parameter');
  return done(errors, { limit: integer(query.limit, 'limit', 1, 100, errors) ?? 20 });
}

export function parseRunId(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new ValidationFailedError([{ field: 'runId', message: 'must be a positive integer' }]);
  return Number(value);
}
