import { Body, Controller, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { MigrationStatusService } from './migration-status.service';
import { parseAdvance, parsePage, parseReasonOnly, parseRollback } from './migration-input';
import { MigrationService } from './migration.service';
import { PhaseStateRepository } from './phase-state.repository';

const actor = (req: AuthenticatedRequest) => req.principal?.name ?? 'unknown';

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration')
export class MigrationController {
  constructor(
    private readonly migration: MigrationService,
    private readonly statusService: MigrationStatusService,
    private readonly state: PhaseStateRepository,
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
  advance(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    return this.migration.advance({ actor: actor(req), ...parseAdvance(body) });
  }

  @Post('rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Back one step, or {to} a named earlier step; refused from cleanup on' })
  rollback(@Body() body: unknown, @Req() req: AuthenticatedRequest) {
    return this.migration.rollback({ actor: actor(req), ...parseRollback(body) });
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
}
