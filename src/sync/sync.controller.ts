import { Body, Controller, Get, HttpCode, Inject, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { OperatorOnly, type AuthenticatedRequest } from '../common/auth/auth.guard';
import { BackfillService } from './backfill/backfill.service';
import { CatchupQueue } from './catchup/catchup.queue';
import { DeadLetterService } from './dead-letters/dead-letter.service';
import { SyncControlService } from './sync-control.service';
import { parseCatchupQuery, parseDeadLetterQuery, parsePause, parseRedrive, parseThrottle } from './sync-input';
import { SyncStatusService } from './sync-status.service';

const CATCHUP_WAIT_MS = 30_000;
const who = (req: AuthenticatedRequest) => req.principal?.name ?? 'unknown';

@ApiTags('sync')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration/sync')
export class SyncController {
  constructor(
    @Inject(SyncStatusService) private readonly status: SyncStatusService,
    @Inject(BackfillService) private readonly backfill: BackfillService,
    @Inject(CatchupQueue) private readonly catchup: CatchupQueue,
    @Inject(SyncControlService) private readonly control: SyncControlService,
    @Inject(DeadLetterService) private readonly deadLetters: DeadLetterService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Backfill progress (counts, ranges, rate, ETA), pause flag, throttle, catch-up watermark and lag, dead letters' })
  async show() {
    return this.status.status();
  }

  @Post('backfill')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start the historical sync, or resume the running one (idempotent)' })
  async startBackfill() {
    return this.backfill.startOrResume();
  }

  @Post('catchup')
  @ApiOperation({ summary: 'Run one catch-up pass now (?wait=true waits up to 30 s for its result)' })
  async runCatchup(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) res: Response) {
    const { wait } = parseCatchupQuery(query);
    const job = await this.catchup.runNow();
    if (!wait) {
      res.status(202);
      return { jobId: job.id, state: 'queued' };
    }
    const outcome = await this.catchup.waitFor(job, CATCHUP_WAIT_MS);
    res.status(outcome.state === 'completed' ? 200 : 202);
    return { jobId: job.id, ...outcome };
  }

  @Post('pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause backfill and catch-up between batches (persisted; workers keep their checkpoints)' })
  async pause(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    const { reason } = parsePause(body);
    await this.control.pause(who(req), reason);
    return { paused: true };
  }

  @Post('resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume backfill and catch-up' })
  async resume(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    parsePause(body);
    return { paused: false, ...(await this.control.resume(who(req))) };
  }

  @Put('throttle')
  @ApiOperation({ summary: 'Set the docs-per-second ceiling over all workers (0: none; null: back to the configured one)' })
  async throttle(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    const { maxDocsPerSecond } = parseThrottle(body);
    await this.control.setThrottle(maxDocsPerSecond, who(req));
    return (await this.status.status()).throttle;
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'Dead letters (unreadable documents with reason and raw form), oldest first; ?status=open|resolved|all&limit=&cursor=' })
  async listDeadLetters(@Query() query: Record<string, unknown>) {
    const { status, limit, after } = parseDeadLetterQuery(query);
    return this.deadLetters.list(status, limit, after);
  }

  @Post('dead-letters/redrive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Read open dead letters from the legacy store again; readable ones are written (version-guarded) and resolved' })
  async redrive(@Body() body: unknown) {
    const { ids, limit } = parseRedrive(body);
    return this.deadLetters.redrive(limit, ids);
  }
}
