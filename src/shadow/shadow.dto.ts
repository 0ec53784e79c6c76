/** The shadow comparison API's DTO classes, made from its schemas (shadow.schemas.ts). */
import { createZodDto } from 'nestjs-zod';
import {
  MismatchPageSchema,
  MismatchQuerySchema,
  ShadowStatusQuerySchema,
  ShadowStatusSchema,
  ShadowTimelineSchema,
  TimelineQuerySchema,
  TopPathsQuerySchema,
  TopPathsSchema,
} from './shadow.schemas';

export class ShadowStatusQueryDto extends createZodDto(ShadowStatusQuerySchema) {}
export class TimelineQueryDto extends createZodDto(TimelineQuerySchema) {}
export class TopPathsQueryDto extends createZodDto(TopPathsQuerySchema) {}
export class MismatchQueryDto extends createZodDto(MismatchQuerySchema) {}
export class ShadowStatusDto extends createZodDto(ShadowStatusSchema) {}
export class ShadowTimelineDto extends createZodDto(ShadowTimelineSchema) {}
export class TopPathsDto extends createZodDto(TopPathsSchema) {}
export class MismatchPageDto extends createZodDto(MismatchPageSchema) {}
