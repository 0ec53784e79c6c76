import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { OperatorOnly } from '../common/auth/auth.guard';
import { ApiErrors } from '../http/openapi';
import { ShadowStatusService } from './shadow-status.service';
import {
  MismatchPageDto,
  MismatchQueryDto,
  ShadowStatusDto,
  ShadowStatusQueryDto,
  ShadowTimelineDto,
  TimelineQueryDto,
  TopPathsDto,
  TopPathsQueryDto,
} from './shadow.dto';

@ApiTags('operations')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration/shadow')
export class ShadowController {
  constructor(private readonly shadow: ShadowStatusService) {}

  @Get()
  @ApiOperation({ summary: 'Shadow comparison counts, mismatch rate over a sliding window, queue, ignore rules and noisy fields' })
  @ApiOkResponse({ type: ShadowStatusDto })
  async status(@Query() query: ShadowStatusQueryDto) {
    return this.shadow.status(query.windowMs);
  }

  @Get('timeline')
  @ApiOperation({
    summary: 'Mismatch rate over time: the window cut into equal buckets, oldest first, each with compared, mismatched and rate',
  })
  @ApiOkResponse({ type: ShadowTimelineDto })
  async timeline(@Query() query: TimelineQueryDto) {
    return this.shadow.timeline(query.windowMs ?? this.shadow.defaultWindowMs, query.buckets);
  }

  @Get('top-paths')
  @ApiOperation({ summary: 'The paths (indices as [*]) that differed most often in the window, with their mismatch counts' })
  @ApiOkResponse({ type: TopPathsDto })
  async topPaths(@Query() query: TopPathsQueryDto) {
    return this.shadow.topPaths(query.windowMs ?? this.shadow.defaultWindowMs, query.limit);
  }

  @Get('mismatches')
  @ApiOperation({ summary: 'Mismatch records, newest first; filters by endpoint, kind, path (and beneath it), since' })
  @ApiOkResponse({ type: MismatchPageDto })
  async mismatches(@Query() query: MismatchQueryDto) {
    const { endpoint, kind, path, since, limit, cursor } = query;
    const filter = { endpoint, kind, path, since, limit, before: cursor };
    const items = await this.shadow.mismatches(filter);
    return { items, nextCursor: items.length === filter.limit ? items[items.length - 1].id : null };
  }
}
