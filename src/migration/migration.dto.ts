/** The phase machine API's DTO classes, made from its schemas (migration.schemas.ts). */
import { createZodDto } from 'nestjs-zod';
import {
  AdvanceSchema,
  AuditPageSchema,
  MigrationStatusSchema,
  MoveResultSchema,
  PageSchema,
  PausedSchema,
  ReasonSchema,
  RollbackSchema,
  TrafficChangePageSchema,
} from './migration.schemas';

export class AdvanceDto extends createZodDto(AdvanceSchema) {}
export class RollbackDto extends createZodDto(RollbackSchema) {}
export class ReasonDto extends createZodDto(ReasonSchema) {}
export class PageQueryDto extends createZodDto(PageSchema) {}
export class MigrationStatusDto extends createZodDto(MigrationStatusSchema) {}
export class MoveResultDto extends createZodDto(MoveResultSchema) {}
export class AuditPageDto extends createZodDto(AuditPageSchema) {}
export class TrafficChangePageDto extends createZodDto(TrafficChangePageSchema) {}
export class PausedDto extends createZodDto(PausedSchema) {}
