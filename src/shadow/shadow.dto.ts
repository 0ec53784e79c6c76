/** The shadow comparison API's DTO classes, made from its schemas (shadow.schemas.ts). */
import { apiDto } from '../http/openapi';
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

export class ShadowStatusQueryDto extends apiDto(ShadowStatusQuerySchema) {}
export class TimelineQueryDto extends apiDto(TimelineQuerySchema) {}
export class TopPathsQueryDto extends apiDto(TopPathsQuerySchema) {}
export class MismatchQueryDto extends apiDto(MismatchQuerySchema) {}
export class ShadowStatusDto extends apiDto(ShadowStatusSchema) {}
export class ShadowTimelineDto extends apiDto(ShadowTimelineSchema) {}
export class TopPathsDto extends apiDto(TopPathsSchema) {}
export class MismatchPageDto extends apiDto(MismatchPageSchema) {}
