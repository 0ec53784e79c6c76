import { Body, Controller, Get, HttpCode, Inject, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { OperatorOnly, type AuthenticatedRequest } from '../common/auth/auth.guard';
import { BackfillService } from './backfill/backfill.service';
import { CatchupQueue } from './catchup/catchup.queue';
import { DeadLetterService } from './dead-letters/dead-letter.service';
import { SyncControlService } from './sync-control.service';
import { SYNC_CONFIG, type SyncConfig } from './sync.config';
import { ApiErrors } from '../http/openapi';
import {
  BackfillStartDto,
  CatchupPassDto,
  CatchupQueryDto,
  DeadLetterPageDto,
  DeadLetterQueryDto,
  RedriveDto,
  RedriveResultDto,
  SyncPausedDto,
  SyncPauseDto,
  SyncStatusDto,
  ThrottleAnswerDto,
  ThrottleDto,
} from './sync.dto';
import type { SyncStatusAnswer } from './sync.schemas';
import { SyncStatusService } from './sync-status.service';

const who = (req: AuthenticatedRequest) => req.principal?.name ?? 'unknown';

@ApiTags('sync')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration/sync')
export class SyncController {
  constructor(
    @Inject(SyncStatusService) private readonly status: SyncStatusService,
    @Inject(BackfillService) private readonly backfill: BackfillService,
    @Inject(CatchupQueue) private readonly catchup: CatchupQueue,
    @Inject(SyncControlService) private readonly control: SyncControlService,
    @Inject(DeadLetterService) private readonly deadLetters: DeadLetterService,
    @Inject(SYNC_CONFIG) private readonly config: SyncConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Backfill progress (counts, ranges, rate, ETA), pause flag, throttle, catch-up watermark and lag, dead letters',
  })
  @ApiOkResponse({ type: SyncStatusDto })
  async show(): Promise<SyncStatusAnswer> {
    return this.status.status();
  }

  @Post('backfill')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start the historical sync, or resume the running one (idempotent)' })
  @ApiAcceptedResponse({ type: BackfillStartDto })
  @ApiErrors(409)
  async startBackfill() {
    return this.backfill.startOrResume();
  }

  @Post('catchup')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Run one catch-up pass now, or join the manual one not yet started (?wait=true waits for its result up to CATCHUP_WAIT_MS, 30 s by default)',
  })
  @ApiAcceptedResponse({ type: CatchupPassDto, description: 'Queued (or, with wait, not finished within CATCHUP_WAIT_MS)' })
  @ApiOkResponse({ type: CatchupPassDto, description: 'With wait: the pass completed' })
  async runCatchup(@Query() query: CatchupQueryDto, @Res({ passthrough: true }) res: Response) {
    const wait = query.wait ?? false;
    const job = await this.catchup.runNow();
    if (!wait) {
      res.status(202);
      return { jobId: job.id, state: 'queued' };
    }
    const outcome = await this.catchup.waitFor(job, this.config.catchupWaitMs);
    res.status(outcome.state === 'completed' ? 200 : 202);
    return { jobId: job.id, ...outcome };
  }

  @Post('pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause backfill and catch-up between batches (persisted; workers keep their checkpoints)' })
  @ApiOkResponse({ type: SyncPausedDto })
  async pause(@Body() body: SyncPauseDto, @Req() req: AuthenticatedRequest) {
    await this.control.pause(who(req), body.reason);
    return { paused: true };
  }

  @Post('resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume backfill and catch-up' })
  @ApiOkResponse({ type: SyncPausedDto })
  async resume(@Body() _body: SyncPauseDto, @Req() req: AuthenticatedRequest) {
    return { paused: false, ...(await this.control.resume(who(req))) };
  }

  @Put('throttle')
  @ApiOperation({ summary: 'Set the docs-per-second ceiling over all workers (0: none; null: back to the configured one)' })
  @ApiOkResponse({ type: ThrottleAnswerDto })
  async throttle(@Body() body: ThrottleDto, @Req() req: AuthenticatedRequest) {
    await this.control.setThrottle(body.maxDocsPerSecond, who(req));
    return (await this.status.status()).throttle;
  }

  @Get('dead-letters')
  @ApiOperation({
    summary: 'Dead letters (unreadable documents with reason and raw form), oldest first; ?status=open|resolved|all&limit=&cursor=',
  })
  @ApiOkResponse({ type: DeadLetterPageDto })
  async listDeadLetters(@Query() query: DeadLetterQueryDto) {
    return this.deadLetters.list(query.status, query.limit, query.cursor);
  }

  @Post('dead-letters/redrive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Read open dead letters from the legacy store again; readable ones are written (version-guarded) and resolved' })
  @ApiOkResponse({ type: RedriveResultDto })
  async redrive(@Body() body: RedriveDto) {
    return this.deadLetters.redrive(body.limit ?? body.ids?.length ?? 1000, body.ids);
  }
}
