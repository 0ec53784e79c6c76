import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { ApiErrors } from '../http/openapi';
import { ReportQueryDto, RunIdDto, RunListDto, RunListQueryDto, RunReportDto, RunSummaryDto, VerifyOptionsDto } from './verify.dto';
import type { RunReportAnswer, RunSummaryAnswer } from './verify.schemas';
import { VerifyService } from './verify.service';

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration/verify')
export class VerifyController {
  constructor(private readonly verify: VerifyService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a verification run (a worker runs it); 409 VERIFICATION_RUNNING while another is queued or running' })
  @ApiAcceptedResponse({ type: RunSummaryDto })
  @ApiErrors(409)
  async start(
    @Body() body: VerifyOptionsDto,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RunSummaryAnswer> {
    const run = await this.verify.start(body, req.principal?.name ?? null);
    res.setHeader('Location', `/migration/verify/${run.id}`);
    return run;
  }

  @Get()
  @ApiOperation({ summary: 'Recent verification runs, newest first' })
  @ApiOkResponse({ type: RunListDto })
  async list(@Query() query: RunListQueryDto): Promise<{ items: RunSummaryAnswer[] }> {
    return { items: await this.verify.list(query.limit) };
  }

  @Get(':runId')
  @ApiOperation({ summary: "A run's progress and totals, and a page of its differences (every differing id, in id order)" })
  @ApiOkResponse({ type: RunReportDto })
  @ApiErrors(404)
  async report(@Param() params: RunIdDto, @Query() query: ReportQueryDto): Promise<RunReportAnswer> {
    return this.verify.report(params.runId, query);
  }
}
