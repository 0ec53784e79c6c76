/** The verification API's DTO classes, made from its schemas (verify.schemas.ts). */
import { createZodDto } from 'nestjs-zod';
import { ReportQuerySchema, RunIdSchema, RunListQuerySchema, RunListSchema, RunReportSchema, RunSummarySchema, VerifyOptionsSchema } from './verify.schemas';

export class VerifyOptionsDto extends createZodDto(VerifyOptionsSchema) {}
export class ReportQueryDto extends createZodDto(ReportQuerySchema) {}
export class RunListQueryDto extends createZodDto(RunListQuerySchema) {}
export class RunIdDto extends createZodDto(RunIdSchema) {}
export class RunSummaryDto extends createZodDto(RunSummarySchema) {}
export class RunReportDto extends createZodDto(RunReportSchema) {}
export class RunListDto extends createZodDto(RunListSchema) {}
