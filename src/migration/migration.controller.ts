import { Body, Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { ApiErrors } from '../http/openapi';
import {
  AdvanceDto,
  AuditPageDto,
  MigrationStatusDto,
  MoveResultDto,
  PageQueryDto,
  PausedDto,
  ReasonDto,
  RollbackDto,
  TrafficChangePageDto,
} from './migration.dto';
import type { MigrationStatus, MoveResultAnswer } from './migration.schemas';
import { MigrationStatusService } from './migration-status.service';
import { MigrationService } from './migration.service';
import { PhaseStateRepository } from './phase-state.repository';
import { TrafficService } from '../traffic/traffic.service';

const actor = (req: AuthenticatedRequest) => req.principal?.name ?? 'unknown';

/** A move whose traffic change is still under way is accepted, not done: 202, and `status` follows it. */
function accepted<T extends { pending?: boolean }>(res: Response, result: T): T {
  if (result.pending) res.status(202);
  return result;
}

const MOVED = { type: MoveResultDto, description: 'The move (or, with dryRun, what it would do) and its gates' };
const PENDING = { type: MoveResultDto, description: 'The move is committed but its traffic change is still under way; status follows it' };

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration')
export class MigrationController {
  constructor(
    private readonly migration: MigrationService,
    private readonly statusService: MigrationStatusService,
    private readonly state: PhaseStateRepository,
    private readonly traffic: TrafficService,
  ) {}

  @Get('status')
  @ApiOperation({ summary: 'Phase, step, weights, roles, gates with values, sync and shadow summaries, last traffic change' })
  @ApiOkResponse({ type: MigrationStatusDto })
  status(): Promise<MigrationStatus> {
    return this.statusService.status();
  }

  @Post('start')
  @HttpCode(200)
  @ApiOperation({ summary: 'not_started -> shadow (dual writes on)' })
  @ApiOkResponse(MOVED)
  @ApiAcceptedResponse(PENDING)
  @ApiErrors(409)
  async start(
    @Body() body: AdvanceDto,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MoveResultAnswer> {
    return accepted(res, await this.migration.start({ actor: actor(req), ...body }));
  }

  @Post('advance')
  @HttpCode(200)
  @ApiOperation({ summary: 'Next step if every gate passes (409 GATE_FAILED otherwise); dryRun changes nothing' })
  @ApiOkResponse(MOVED)
  @ApiAcceptedResponse(PENDING)
  @ApiErrors(409)
  async advance(
    @Body() body: AdvanceDto,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MoveResultAnswer> {
    return accepted(res, await this.migration.advance({ actor: actor(req), ...body }));
  }

  @Post('rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Back one step, or {to} a named earlier step; refused from cleanup on' })
  @ApiOkResponse(MOVED)
  @ApiAcceptedResponse(PENDING)
  @ApiErrors(409)
  async rollback(
    @Body() body: RollbackDto,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MoveResultAnswer> {
    return accepted(res, await this.migration.rollback({ actor: actor(req), ...body }));
  }

  @Post('pause')
  @HttpCode(200)
  @ApiOperation({ summary: "Stop automatic progression and the sync workers' scheduling" })
  @ApiOkResponse({ type: PausedDto })
  async pause(@Body() body: ReasonDto, @Req() req: AuthenticatedRequest) {
    await this.migration.pause(actor(req), body.reason);
    return { paused: true };
  }

  @Post('resume')
  @HttpCode(200)
  @ApiOperation({ summary: "Restart automatic progression and the sync workers' scheduling" })
  @ApiOkResponse({ type: PausedDto })
  async resume(@Body() body: ReasonDto, @Req() req: AuthenticatedRequest) {
    await this.migration.resume(actor(req), body.reason);
    return { paused: false };
  }

  @Get('history')
  @ApiOperation({ summary: 'The audit log: every transition, traffic change, force and rollback' })
  @ApiOkResponse({ type: AuditPageDto })
  history(@Query() query: PageQueryDto) {
    return this.state.history(query.limit, query.offset);
  }

  @Get('traffic')
  @ApiOperation({ summary: 'The traffic intent log: each weight change, its provider change id and its state' })
  @ApiOkResponse({ type: TrafficChangePageDto })
  trafficChanges(@Query() query: PageQueryDto) {
    return this.traffic.history(query.limit, query.offset);
  }
}
