/** The verification API's DTO classes, made from its schemas (verify.schemas.ts). */
import { apiDto } from '../http/openapi';
import {
  ReportQuerySchema,
  RunIdSchema,
  RunListQuerySchema,
  RunListSchema,
  RunReportSchema,
  RunSummarySchema,
  VerifyOptionsSchema,
} from './verify.schemas';

export class VerifyOptionsDto extends apiDto(VerifyOptionsSchema) {}
export class ReportQueryDto extends apiDto(ReportQuerySchema) {}
export class RunListQueryDto extends apiDto(RunListQuerySchema) {}
export class RunIdDto extends apiDto(RunIdSchema) {}
export class RunSummaryDto extends apiDto(RunSummarySchema) {}
export class RunReportDto extends apiDto(RunReportSchema) {}
export class RunListDto extends apiDto(RunListSchema) {}
