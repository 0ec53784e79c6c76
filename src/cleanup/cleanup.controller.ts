import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { apiDto } from '../http/openapi';
import { AuthenticatedRequest, OperatorOnly } from '../common/auth/auth.guard';
import { DomainError } from '../common/errors';
import { ApiErrors } from '../http/openapi';
import { ArchiveRunIdSchema, ArchiveRunSchema, ArchiveSummarySchema } from './cleanup.schemas';
import { CleanupService } from './cleanup.service';

class ArchiveRunIdDto extends apiDto(ArchiveRunIdSchema) {}
class ArchiveRunDto extends apiDto(ArchiveRunSchema) {}
class ArchiveSummaryDto extends apiDto(ArchiveSummarySchema) {}

@ApiTags('migration')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration/cleanup')
export class CleanupController {
  constructor(private readonly cleanup: CleanupService) {}

  @Get()
  @ApiOperation({ summary: 'The newest archive run of the legacy collection: state, progress, manifest, check' })
  @ApiOkResponse({ type: ArchiveSummaryDto })
  status() {
    return this.cleanup.summary();
  }

  @Post('archive')
  @HttpCode(202)
  @ApiOperation({ summary: 'Archive the legacy collection and check it against the store (cleanup only); the running one if any' })
  @ApiAcceptedResponse({ type: ArchiveRunDto })
  @ApiErrors(409)
  async archive(@Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    const { run } = await this.cleanup.start(req.principal?.name ?? 'unknown');
    res.setHeader('Location', `/migration/cleanup/archives/${run.id}`);
    return run;
  }

  @Get('archives/:id')
  @ApiOperation({ summary: 'One archive run' })
  @ApiOkResponse({ type: ArchiveRunDto })
  @ApiErrors(404)
  async run(@Param() params: ArchiveRunIdDto) {
    const run = await this.cleanup.get(params.id);
    if (!run) throw new DomainError('NOT_FOUND', 404, `no archive run ${params.id}`);
    return run;
  }
}
