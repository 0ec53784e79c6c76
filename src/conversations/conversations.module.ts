import { Module } from '@nestjs/common';
import { RepairModule } from '../repair/repair.module';
import { ConversationController } from './conversation.controller';
import { ConversationService } from './conversation.service';
import { DualWriter } from './dual-writer';
import { IdempotencyService } from './idempotency.service';

@Module({
  imports: [RepairModule],
  controllers: [ConversationController],
  providers: [DualWriter, ConversationService, IdempotencyService],
  exports: [DualWriter, ConversationService],
})
export class ConversationsModule {}
