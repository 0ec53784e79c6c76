import { FieldError, ValidationFailedError } from '../common/errors';

/** Operator request bodies: every problem at once, unknown fields refused. */
function parse(body: unknown, allowed: Record<string, 'string' | 'boolean'>, required: string[] = []): Record<string, unknown> {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ValidationFailedError([{ field: 'body', message: 'must be a JSON object' }]);
  const fields = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const type = allowed[k];
    if (!type) errors.push({ field: k.slice(0, 100), message: 'is not an accepted field' });
    else if (typeof v !== type) errors.push({ field: k, message: `must be a ${type}` });
    else if (type === 'string' && ((v as string).length > 2000 || (v as string).trim() === '')) errors.push({ field: k, message: 'must be 1-2000 characters' });
  }
  for (const k of required) if (fields[k] === undefined) errors.push({ field: k, message: 'is required' });
  if (errors.length > 0) throw new ValidationFailedError(errors.slice(0, 50));
  return fields;
}

export interface AdvanceBody { reason?: string; expectedStep?: string; force?: boolean; dryRun?: boolean }
export interface RollbackBody { reason: string; to?: string; expectedStep?: string; dryRun?: boolean }

export function parseAdvance(body: unknown): AdvanceBody {
  const f = parse(body, { reason: 'string', expectedStep: 'string', force: 'boolean', dryRun: 'boolean' });
  if (f.force === true && f.reason === undefined) throw new ValidationFailedError([{ field: 'reason', message: 'is required with force' }]);
  return f as AdvanceBody;
}

export function parseRollback(body: unknown): RollbackBody {
  return parse(body, { reason: 'string', to: 'string', expectedStep: 'string', dryRun: 'boolean' }, ['reason']) as unknown as RollbackBody;
}

export function parseReasonOnly(body: unknown): { reason?: string } {
  return parse(body, { reason: 'string' }) as { reason?: string };
}

export function parsePage(query: Record<string, unknown>): { limit: number; offset: number } {
  const errors: FieldError[] = [];
  const num = (k: string, dflt: number, min: number, max: number) => {
    const v = query[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || !/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) {
      errors.push({ field: k, message: `must be an integer from ${min} to ${max}` });
      return dflt;
    }
    return Number(v);
  };
  const page = { limit: num('limit', 50, 1, 500), offset: num('offset', 0, 0, 1e9) };
  for (const k of Object.keys(query)) if (k !== 'limit' && k !== 'offset') errors.push({ field: k.slice(0, 100), message: 'is not an accepted query parameter' });
  if (errors.length > 0) throw new ValidationFailedError(errors);
  return page;
}
