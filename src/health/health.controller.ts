import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { apiDto } from '../http/openapi';
import type { Response } from 'express';
import type { RedisClient } from '../stores/redis';
import { Db } from 'mongodb';
import { DataSource } from 'typeorm';
import { Public } from '../common/auth/auth.guard';
import { MetricsService } from '../common/metrics/metrics.service';
import { readMode } from '../mode/write-fence';
import { DATA_SOURCE, LEGACY_DB, REDIS } from '../stores/stores.module';
import { checkStores, downChecks, readiness } from './readiness';
import { LiveSchema, ReadySchema } from './health.schemas';

class LiveDto extends apiDto(LiveSchema) {}
class ReadyDto extends apiDto(ReadySchema) {}

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  private readonly up;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(LEGACY_DB) private readonly legacy: Db,
    @Inject(REDIS) private readonly redis: RedisClient,
    metrics: MetricsService,
  ) {
    this.up = metrics.gauge(
      'dependency_up',
      'Whether a dependency answered the last readiness check (1) or not (0), and whether this pod needs it to acknowledge writes',
      ['dependency', 'required'],
    );
  }

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'The process is running' })
  @ApiOkResponse({ type: LiveDto })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Ready when this pod can acknowledge writes in the current phase',
    description:
      'PostgreSQL (it holds the migration state and the write fence) and the source of truth of the current phase must answer, else 503 naming them. ' +
      'The other store or Redis being down leaves the pod ready, with status "degraded" naming them: writes go on and the other store is repaired later.',
  })
  @ApiOkResponse({ type: ReadyDto, description: 'Ready, or degraded (the other store or Redis down; writes go on)' })
  @ApiServiceUnavailableResponse({ type: ReadyDto, description: 'Not ready: PostgreSQL or the source of truth cannot be reached' })
  async ready(@Res({ passthrough: true }) res: Response) {
    const checks = await checkStores(this.dataSource, this.legacy, this.redis);
    const mode = checks.postgres.status === 'up' ? await readMode(this.dataSource).catch(() => null) : null;
    const verdict = readiness(checks, mode);
    for (const [name, c] of Object.entries(checks)) {
      this.up.set({ dependency: name, required: String(verdict.required.includes(name)) }, c.status === 'up' ? 1 : 0);
    }
    res.status(verdict.status === 'not_ready' ? 503 : 200);
    return { ...verdict, phase: mode?.phase ?? null, down: downChecks(checks), checks };
  }
}
