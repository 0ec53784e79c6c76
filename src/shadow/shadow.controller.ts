import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { OperatorOnly } from '../common/auth/auth.guard';
import { FieldError, ValidationFailedError } from '../common/errors';
import { parseIsoTimestamp } from '../model/timestamp';
import type { ComparisonKind, MismatchFilter } from './shadow.repository';
import { ShadowStatusService } from './shadow-status.service';

const MAX_WINDOW_MS = 30 * 24 * 3_600_000;

function only(query: Record<string, unknown>, allowed: string[], errors: FieldError[]): void {
  for (const k of Object.keys(query)) if (!allowed.includes(k)) errors.push({ field: k.slice(0, 100), message: 'is not an accepted query parameter' });
}

function integer(value: unknown, field: string, min: number, max: number, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max) {
    errors.push({ field, message: `must be an integer from ${min} to ${max}` });
    return undefined;
  }
  return Number(value);
}

@ApiTags('operations')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration/shadow')
export class ShadowController {
  constructor(private readonly shadow: ShadowStatusService) {}

  @Get()
  @ApiOperation({ summary: 'Shadow comparison counts, mismatch rate over a sliding window, queue, ignore rules and noisy fields' })
  @ApiQuery({ name: 'windowMs', required: false, description: 'sliding window (default SHADOW_WINDOW_MS)' })
  async status(@Query() query: Record<string, unknown>) {
    const errors: FieldError[] = [];
    only(query, ['windowMs'], errors);
    const windowMs = integer(query.windowMs, 'windowMs', 1, MAX_WINDOW_MS, errors);
    if (errors.length > 0) throw new ValidationFailedError(errors);
    return this.shadow.status(windowMs);
  }

  @Get('timeline')
  @ApiOperation({ summary: 'Mismatch rate over time: the window cut into equal buckets, oldest first, each with compared, mismatched and rate' })
  @ApiQuery({ name: 'windowMs', required: false, description: 'default SHADOW_WINDOW_MS' })
  @ApiQuery({ name: 'buckets', required: false, description: '1..500, default 60' })
  async timeline(@Query() query: Record<string, unknown>) {
    const errors: FieldError[] = [];
    only(query, ['windowMs', 'buckets'], errors);
    const windowMs = integer(query.windowMs, 'windowMs', 1000, MAX_WINDOW_MS, errors);
    const buckets = integer(query.buckets, 'buckets', 1, 500, errors);
    if (errors.length > 0) throw new ValidationFailedError(errors);
    return this.shadow.timeline(windowMs ?? this.shadow.defaultWindowMs, buckets ?? 60);
  }

  @Get('top-paths')
  @ApiOperation({ summary: 'The paths (indices as [*]) that differed most often in the window, with their mismatch counts' })
  @ApiQuery({ name: 'windowMs', required: false, description: 'default SHADOW_WINDOW_MS' })
  @ApiQuery({ name: 'limit', required: false, description: '1..100, default 10' })
  async topPaths(@Query() query: Record<string, unknown>) {
    const errors: FieldError[] = [];
    only(query, ['windowMs', 'limit'], errors);
    const windowMs = integer(query.windowMs, 'windowMs', 1, MAX_WINDOW_MS, errors);
    const limit = integer(query.limit, 'limit', 1, 100, errors);
    if (errors.length > 0) throw new ValidationFailedError(errors);
    return this.shadow.topPaths(windowMs ?? this.shadow.defaultWindowMs, limit ?? 10);
  }

  @Get('mismatches')
  @ApiOperation({ summary: 'Mismatch records, newest first; filters by endpoint, kind, path (and beneath it), since' })
  @ApiQuery({ name: 'endpoint', required: false, enum: ['get', 'list'] })
  @ApiQuery({ name: 'kind', required: false, enum: ['stores', 'http'] })
  @ApiQuery({ name: 'path', required: false, description: 'e.g. title, metadata.a, messages[*].content' })
  @ApiQuery({ name: 'since', required: false, description: 'ISO-8601 date-time' })
  @ApiQuery({ name: 'limit', required: false, description: '1..200, default 50' })
  @ApiQuery({ name: 'cursor', required: false })
  async mismatches(@Query() query: Record<string, unknown>) {
    const errors: FieldError[] = [];
    only(query, ['endpoint', 'kind', 'path', 'since', 'limit', 'cursor'], errors);
    const filter: MismatchFilter = { limit: integer(query.limit, 'limit', 1, 200, errors) ?? 50 };
    const { endpoint, kind, path, since, cursor } = query;
    if (endpoint !== undefined) {
      if (endpoint === 'get' || endpoint === 'list') filter.endpoint = endpoint;
      else errors.push({ field: 'endpoint', message: 'must be get or list' });
    }
    if (kind !== undefined) {
      if (kind === 'stores' || kind === 'http') filter.kind = kind as ComparisonKind;
      else errors.push({ field: 'kind', message: 'must be stores or http' });
    }
    if (path !== undefined) {
      if (typeof path === 'string' && path.length >= 1 && path.length <= 500) filter.path = path;
      else errors.push({ field: 'path', message: 'must be 1-500 characters' });
    }
    if (since !== undefined) {
      const t = typeof since === 'string' ? parseIsoTimestamp(since) : null;
      if (t?.ok) filter.since = t.date;
      else errors.push({ field: 'since', message: 'must be an ISO-8601 date-time with offset' });
    }
    if (cursor !== undefined) {
      if (typeof cursor === 'string' && /^\d{1,19}$/.test(cursor)) filter.before = cursor;
      else errors.push({ field: 'cursor', message: 'must be a cursor this API issued' });
    }
    if (errors.length > 0) throw new ValidationFailedError(errors);
    const items = await this.shadow.mismatches(filter);
    return { items, nextCursor: items.length === filter.limit ? items[items.length - 1].id : null };
  }
}
