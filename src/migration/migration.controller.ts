import { Body, Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { MigrationStatusService } from './migration-status.service';
import { parseAdvance, parsePage, parseReasonOnly, parseRollback } from './migration-input';
import { MigrationService } from './migration.service';
import { PhaseStateRepository } from './phase-state.repository';
import { TrafficService } from '../traffic/traffic.service';

const actor = (req: AuthenticatedRequest) => req.principal?.name ?? 'unknown';

/** A move whose traffic change is still under way is accepted, not done: 202, and `status` follows it. */
function accepted<T extends { pending?: boolean }>(res: Response, result: T): T {
  if (result.pending) res.status(202);
  return result;
}

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
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
  status() {
    return this.statusService.status();
  }

  @Post('start')
  @HttpCode(200)
  @ApiOperation({ summary: 'not_started -> shadow (dual writes on)' })
  start(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    const b = parseAdvance(body);
    return this.migration.start({ actor: actor(req), ...b });
  }

  @Post('advance')
  @HttpCode(200)
  @ApiOperation({ summary: 'Next step if every gate passes (409 GATE_FAILED otherwise); dryRun changes nothing' })
  async advance(@Body() body: unknown, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    return accepted(res, await this.migration.advance({ actor: actor(req), ...parseAdvance(body) }));
  }

  @Post('rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Back one step, or {to} a named earlier step; refused from cleanup on' })
  async rollback(@Body() body: unknown, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    return accepted(res, await this.migration.rollback({ actor: actor(req), ...parseRollback(body) }));
  }

  @Post('pause')
  @HttpCode(200)
  async pause(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    await this.migration.pause(actor(req), parseReasonOnly(body).reason);
    return { paused: true };
  }

  @Post('resume')
  @HttpCode(200)
  async resume(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    await this.migration.resume(actor(req), parseReasonOnly(body).reason);
    return { paused: false };
  }

  @Get('history')
  @ApiOperation({ summary: 'The audit log: every transition, traffic change, force and rollback' })
  history(@Query() query: Record<string, unknown>) {
    const { limit, offset } = parsePage(query);
    return this.state.history(limit, offset);
  }

  @Get('traffic')
  @ApiOperation({ summary: 'The traffic intent log: each weight change, its provider change id and its state' })
  trafficChanges(@Query() query: Record<string, unknown>) {
    const { limit, offset } = parsePage(query);
    return this.traffic.history(limit, offset);
  }
}
