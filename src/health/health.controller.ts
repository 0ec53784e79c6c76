import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type Redis from 'ioredis';
import { Db } from 'mongodb';
import { DataSource } from 'typeorm';
import { Public } from '../common/auth/auth.guard';
import { DATA_SOURCE, LEGACY_DB, REDIS } from '../stores/stores.module';
import { checkStores, downChecks } from './readiness';

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(LEGACY_DB) private readonly legacy: Db,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'The process is running' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'PostgreSQL, the legacy store and Redis all answer (503 naming what is down)' })
  async ready(@Res({ passthrough: true }) res: Response) {
    const checks = await checkStores(this.dataSource, this.legacy, this.redis);
    const down = downChecks(checks);
    res.status(down.length === 0 ? 200 : 503);
    return down.length === 0 ? { status: 'ready', checks } : { status: 'not_ready', down, checks };
  }
}
