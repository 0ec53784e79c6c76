import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { OperatorOnly } from '../common/auth/auth.guard';
import { ValidationFailedError } from '../common/errors';
import { RepairQueue } from './repair-queue';

@ApiTags('operations')
@ApiBearerAuth()
@OperatorOnly()
@Controller('migration/repairs')
export class RepairController {
  constructor(private readonly queue: RepairQueue) {}

  @Get()
  @ApiOperation({ summary: 'Repair queue counts and the dead-letter list (repairs out of attempts)' })
  async status(@Query('offset') offset = '0', @Query('limit') limit = '100') {
    const [start, count] = [Number(offset), Number(limit)];
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(count) || count < 1 || count > 1000) {
      throw new ValidationFailedError([{ field: 'offset/limit', message: 'offset >= 0 and limit 1..1000' }]);
    }
    return { counts: await this.queue.counts(), dead: await this.queue.dead(start, start + count - 1) };
  }

  @Post('redrive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Put every dead repair back in line with fresh attempts' })
  async redrive() {
    return { redriven: await this.queue.redriveDead() };
  }
}
