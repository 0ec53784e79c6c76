import { Body, Controller, Delete, Get, HttpCode, Param, Put, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { NotFoundError, ValidationFailedError } from '../common/errors';
import { RateLimits } from './rate-limits';

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

function parseOverride(body: unknown): { rps: number; reason: string | null } {
  const b = (body ?? {}) as Record<string, unknown>;
  const errors = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) errors.push({ field: 'body', message: 'must be a JSON object' });
  for (const k of Object.keys(b)) if (k !== 'rps' && k !== 'reason') errors.push({ field: k.slice(0, 100), message: 'is not an accepted field' });
  if (typeof b.rps !== 'number' || !Number.isFinite(b.rps) || b.rps < 0 || b.rps > 1_000_000) errors.push({ field: 'rps', message: 'must be a number from 0 (unlimited) to 1000000' });
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > 2000 || /\u0000/.test(b.reason))) errors.push({ field: 'reason', message: 'must be a string of at most 2000 characters' });
  if (errors.length > 0) throw new ValidationFailedError(errors);
  return { rps: b.rps as number, reason: (b.reason as string | undefined) ?? null };
}

function parseName(name: string): string {
  if (!NAME.test(name)) throw new ValidationFailedError([{ field: 'tokenName', message: 'must be 1-100 characters of A-Z a-z 0-9 . _ -' }]);
  return name;
}

@ApiTags('operations')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration/rate-limits')
export class RateLimitController {
  constructor(private readonly limits: RateLimits) {}

  @Get()
  @ApiOperation({ summary: 'Operator overrides of per-token request rates (requests per second; 0 = unlimited)' })
  async list() {
    return { overrides: await this.limits.list() };
  }

  @Put(':tokenName')
  @ApiOperation({ summary: "Set a token's request rate (by the token's name), for every replica within seconds" })
  async set(@Param('tokenName') name: string, @Body() body: unknown, @Req() req: AuthenticatedRequest) {
    const { rps, reason } = parseOverride(body);
    return this.limits.set(parseName(name), rps, req.principal?.name ?? 'unknown', reason);
  }

  @Delete(':tokenName')
  @HttpCode(204)
  @ApiOperation({ summary: "Drop an override: the token's configured rate applies again" })
  async clear(@Param('tokenName') name: string) {
    if (!(await this.limits.clear(parseName(name)))) throw new NotFoundError(`Rate limit override for ${name}`);
  }
}
