import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { apiDto } from '../http/openapi';
import { OperatorOnly } from '../common/auth/auth.guard';
import { ApiErrors } from '../http/openapi';
import { RedrivenSchema, RepairListQuerySchema, RepairsSchema } from './repair.schemas';
import { RepairQueue } from './repair-queue';

class RepairListQueryDto extends apiDto(RepairListQuerySchema) {}
class RepairsDto extends apiDto(RepairsSchema) {}
class RedrivenDto extends apiDto(RedrivenSchema) {}

@ApiTags('operations')
@ApiBearerAuth()
@OperatorOnly()
@ApiErrors(403)
@Controller('migration/repairs')
export class RepairController {
  constructor(private readonly queue: RepairQueue) {}

  @Get()
  @ApiOperation({ summary: 'Repair queue counts and the dead-letter list (repairs out of attempts)' })
  @ApiOkResponse({ type: RepairsDto })
  async status(@Query() query: RepairListQueryDto) {
    return { counts: await this.queue.counts(), dead: await this.queue.dead(query.offset, query.offset + query.limit - 1) };
  }

  @Post('redrive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Put every dead repair back in line with fresh attempts' })
  @ApiOkResponse({ type: RedrivenDto })
  async redrive() {
    return { redriven: await this.queue.redriveDead() };
  }
}
