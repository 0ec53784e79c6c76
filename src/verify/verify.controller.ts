import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { parseListQuery, parseReportQuery, parseRunId, parseVerifyOptions, REPORT_KINDS, VERIFY_DEFAULTS } from './verify-input';
import { VerifyService } from './verify.service';

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration/verify')
export class VerifyController {
  constructor(private readonly verify: VerifyService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a verification run (a worker runs it); 409 VERIFICATION_RUNNING while another is queued or running' })
  @ApiBody({
    required: false,
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        repair: { type: 'boolean', default: VERIFY_DEFAULTS.repair, description: 'Copy each difference from the source of truth, then verify it again' },
        chunkSize: { type: 'integer', minimum: 10, maximum: 10000, default: VERIFY_DEFAULTS.chunkSize },
        recheckDelayMs: { type: 'integer', minimum: 0, maximum: 600000, default: VERIFY_DEFAULTS.recheckDelayMs },
        pauseMs: { type: 'integer', minimum: 0, maximum: 60000, default: VERIFY_DEFAULTS.pauseMs },
        reason: { type: 'string', maxLength: 500 },
      },
    },
  })
  async start(@Body() body: unknown, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    const run = await this.verify.start(parseVerifyOptions(body), req.principal?.name ?? null);
    res.setHeader('Location', `/migration/verify/${run.id}`);
    return run;
  }

  @Get()
  @ApiOperation({ summary: 'Recent verification runs, newest first' })
  @ApiQuery({ name: 'limit', required: false, description: '1..100, default 20' })
  async list(@Query() query: Record<string, unknown>) {
    return { items: await this.verify.list(parseListQuery(query).limit) };
  }

  @Get(':runId')
  @ApiOperation({ summary: "A run's progress and totals, and a page of its differences (every differing id, in id order)" })
  @ApiQuery({ name: 'offset', required: false, description: 'default 0' })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  @ApiQuery({ name: 'kind', required: false, enum: REPORT_KINDS })
  @ApiQuery({ name: 'repaired', required: false, enum: ['true', 'false'] })
  async report(@Param('runId') runId: string, @Query() query: Record<string, unknown>) {
    const id = parseRunId(runId);
    return this.verify.report(id, parseReportQuery(query));
  }
}
