import { Body, Controller, Delete, Get, HttpCode, Param, Put, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { apiDto } from '../http/openapi';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { NotFoundError } from '../common/errors';
import { ApiErrors } from '../http/openapi';
import { OverrideAnswerSchema, OverrideListSchema, OverrideSchema, TokenNameSchema } from './rate-limit.schemas';
import { RateLimits } from './rate-limits';

class TokenNameDto extends apiDto(TokenNameSchema) {}
class OverrideDto extends apiDto(OverrideSchema) {}
class OverrideAnswerDto extends apiDto(OverrideAnswerSchema) {}
class OverrideListDto extends apiDto(OverrideListSchema) {}

@ApiTags('operations')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration/rate-limits')
export class RateLimitController {
  constructor(private readonly limits: RateLimits) {}

  @Get()
  @ApiOperation({ summary: 'Operator overrides of per-token request rates (requests per second; 0 = unlimited)' })
  @ApiOkResponse({ type: OverrideListDto })
  async list() {
    return { overrides: await this.limits.list() };
  }

  @Put(':tokenName')
  @ApiOperation({ summary: "Set a token's request rate (by the token's name), for every replica within seconds" })
  @ApiOkResponse({ type: OverrideAnswerDto })
  async set(@Param() params: TokenNameDto, @Body() body: OverrideDto, @Req() req: AuthenticatedRequest) {
    return this.limits.set(params.tokenName, body.rps, req.principal?.name ?? 'unknown', body.reason ?? null);
  }

  @Delete(':tokenName')
  @HttpCode(204)
  @ApiOperation({ summary: "Drop an override: the token's configured rate applies again" })
  @ApiNoContentResponse({ description: 'Dropped' })
  @ApiErrors(404)
  async clear(@Param() params: TokenNameDto) {
    if (!(await this.limits.clear(params.tokenName))) throw new NotFoundError(`Rate limit override for ${params.tokenName}`);
  }
}
