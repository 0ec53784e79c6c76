/** The phase machine API's DTO classes, made from its schemas (migration.schemas.ts). */
import { apiDto } from '../http/openapi';
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

export class AdvanceDto extends apiDto(AdvanceSchema) {}
export class RollbackDto extends apiDto(RollbackSchema) {}
export class ReasonDto extends apiDto(ReasonSchema) {}
export class PageQueryDto extends apiDto(PageSchema) {}
export class MigrationStatusDto extends apiDto(MigrationStatusSchema) {}
export class MoveResultDto extends apiDto(MoveResultSchema) {}
export class AuditPageDto extends apiDto(AuditPageSchema) {}
export class TrafficChangePageDto extends apiDto(TrafficChangePageSchema) {}
export class PausedDto extends apiDto(PausedSchema) {}
