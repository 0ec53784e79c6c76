import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { DomainError } from '../common/errors';
import { CleanupService } from './cleanup.service';

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration/cleanup')
export class CleanupController {
  constructor(private readonly cleanup: CleanupService) {}

  @Get()
  @ApiOperation({ summary: 'The newest archive run of the legacy collection: state, progress, manifest, check' })
  status() {
    return this.cleanup.summary();
  }

  @Post('archive')
  @HttpCode(202)
  @ApiOperation({ summary: 'Archive the legacy collection and check it against the store (cleanup only); the running one if any' })
  async archive(@Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    const { run } = await this.cleanup.start(req.principal?.name ?? 'unknown');
    res.setHeader('Location', `/migration/cleanup/archives/${run.id}`);
    return run;
  }

  @Get('archives/:id')
  @ApiOperation({ summary: 'One archive run' })
  async run(@Param('id') id: string) {
    if (!/^\d{1,15}$/.test(id)) throw new DomainError('VALIDATION_FAILED', 400, 'archive run id must be a positive integer', [{ field: 'id', message: 'must be a positive integer' }]);
    const run = await this.cleanup.get(Number(id));
    if (!run) throw new DomainError('NOT_FOUND', 404, `no archive run ${id}`);
    return run;
  }
}
