/** The sync operator API's DTO classes, made from its schemas (sync.schemas.ts). */
import { createZodDto } from 'nestjs-zod';
import {
  BackfillStartSchema,
  CatchupPassSchema,
  CatchupQuerySchema,
  DeadLetterPageSchema,
  DeadLetterQuerySchema,
  RedriveResultSchema,
  RedriveSchema,
  SyncPausedSchema,
  SyncPauseSchema,
  SyncStatusSchema,
  ThrottleAnswerSchema,
  ThrottleSchema,
} from './sync.schemas';

export class SyncPauseDto extends createZodDto(SyncPauseSchema) {}
export class ThrottleDto extends createZodDto(ThrottleSchema) {}
export class RedriveDto extends createZodDto(RedriveSchema) {}
export class DeadLetterQueryDto extends createZodDto(DeadLetterQuerySchema) {}
export class CatchupQueryDto extends createZodDto(CatchupQuerySchema) {}
export class SyncStatusDto extends createZodDto(SyncStatusSchema) {}
export class BackfillStartDto extends createZodDto(BackfillStartSchema) {}
export class CatchupPassDto extends createZodDto(CatchupPassSchema) {}
export class SyncPausedDto extends createZodDto(SyncPausedSchema) {}
export class ThrottleAnswerDto extends createZodDto(ThrottleAnswerSchema) {}
export class DeadLetterPageDto extends createZodDto(DeadLetterPageSchema) {}
export class RedriveResultDto extends createZodDto(RedriveResultSchema) {}
