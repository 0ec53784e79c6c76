import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type Redis from 'ioredis';
import { Db } from 'mongodb';
import { DataSource } from 'typeorm';
import { Public } from '../common/auth/auth.guard';
import { DATA_SOURCE, LEGACY_DB, REDIS } from '../stores/stores.module';

const CHECK_TIMEOUT_MS = 2000;

type CheckResult = { status: 'up' } | { status: 'down'; error: string };

async function check(fn: () => Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([fn(), timeout]);
    return { status: 'up' };
  } catch (err) {
    // The driver's message, never a connection string: drivers here do not echo passwords.
    return { status: 'down', error: err instanceof Error ? err.message.slice(0, 200) : 'unknown error' };
  } finally {
    clearTimeout(timer);
  }
}

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
    const [postgres, legacy, redis] = await Promise.all([
      check(() => this.dataSource.query('SELECT 1')),
      check(() => this.legacy.command({ ping: 1 })),
      check(() => this.redis.ping()),
    ]);
    const checks = { postgres, legacy, redis };
    const down = Object.entries(checks).filter(([, c]) => c.status === 'down').map(([name]) => name);
    res.status(down.length === 0 ? 200 : 503);
    return down.length === 0 ? { status: 'ready', checks } : { status: 'not_ready', down, checks };
  }
}
