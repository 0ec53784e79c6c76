/** The sync operator API's DTO classes, made from its schemas (sync.schemas.ts). */
import { apiDto } from '../http/openapi';
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

export class SyncPauseDto extends apiDto(SyncPauseSchema) {}
export class ThrottleDto extends apiDto(ThrottleSchema) {}
export class RedriveDto extends apiDto(RedriveSchema) {}
export class DeadLetterQueryDto extends apiDto(DeadLetterQuerySchema) {}
export class CatchupQueryDto extends apiDto(CatchupQuerySchema) {}
export class SyncStatusDto extends apiDto(SyncStatusSchema) {}
export class BackfillStartDto extends apiDto(BackfillStartSchema) {}
export class CatchupPassDto extends apiDto(CatchupPassSchema) {}
export class SyncPausedDto extends apiDto(SyncPausedSchema) {}
export class ThrottleAnswerDto extends apiDto(ThrottleAnswerSchema) {}
export class DeadLetterPageDto extends apiDto(DeadLetterPageSchema) {}
export class RedriveResultDto extends apiDto(RedriveResultSchema) {}
