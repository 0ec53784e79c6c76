/** Shapes for the OpenAPI document; bodies are checked by conversation-input.ts. */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Conversation } from '../model/conversation.model';
import { MESSAGE_ROLES } from '../model/conversation.model';

export class MessageInputDto {
  @ApiProperty({ enum: MESSAGE_ROLES }) role!: string;
  @ApiProperty({ description: 'At most 64 KiB of UTF-8' }) content!: string;
}

export class CreateConversationDto {
  @ApiProperty({ maxLength: 200 }) userId!: string;
  @ApiPropertyOptional({ maxLength: 500, nullable: true, type: String }) title?: string | null;
  @ApiPropertyOptional({ type: [MessageInputDto] }) messages?: MessageInputDto[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'At most 16 KiB serialised, 8 levels; keys may not start with $, contain . or NUL' })
  metadata?: Record<string, unknown>;
}

export class PatchConversationDto {
  @ApiPropertyOptional({ maxLength: 500, nullable: true, type: String }) title?: string | null;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) metadata?: Record<string, unknown>;
}

export class MessageDto {
  @ApiProperty({ enum: MESSAGE_ROLES }) role!: string;
  @ApiProperty() content!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class ConversationDto {
  @ApiProperty({ pattern: '^[0-9a-f]{24}$' }) id!: string;
  @ApiProperty() userId!: string;
  @ApiProperty({ nullable: true, type: String }) title!: string | null;
  @ApiProperty({ type: [MessageDto] }) messages!: MessageDto[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ description: 'Also sent as the ETag' }) version!: number;
}

export class ConversationPageDto {
  @ApiProperty({ type: [ConversationDto] }) items!: ConversationDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}

export function toDto(c: Conversation): ConversationDto {
  return {
    id: c.id,
    userId: c.userId,
    title: c.title,
    messages: c.messages.map((m) => ({ role: m.role, content: m.content, createdAt: m.createdAt.toISOString() })),
    metadata: c.metadata,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    version: c.version,
  };
}

export const etag = (version: number) => `"${version}"`;
