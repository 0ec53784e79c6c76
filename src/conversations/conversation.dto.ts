/** The conversation API's DTO classes, made from its schemas (conversation.schemas.ts): nothing here can drift. */
import { createZodDto } from 'nestjs-zod';
import type { Conversation } from '../model/conversation.model';
import {
  ConversationAnswer,
  ConversationIdSchema,
  ConversationPageSchema,
  ConversationSchema,
  CreateConversationSchema,
  ListConversationsSchema,
  MessageInputSchema,
  PatchConversationSchema,
} from './conversation.schemas';

export class CreateConversationDto extends createZodDto(CreateConversationSchema) {}
export class PatchConversationDto extends createZodDto(PatchConversationSchema) {}
export class MessageInputDto extends createZodDto(MessageInputSchema) {}
export class ConversationIdDto extends createZodDto(ConversationIdSchema) {}
export class ListConversationsDto extends createZodDto(ListConversationsSchema) {}
export class ConversationDto extends createZodDto(ConversationSchema) {}
export class ConversationPageDto extends createZodDto(ConversationPageSchema) {}

export function toDto(c: Conversation): ConversationAnswer & { createdAt: string; updatedAt: string } {
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
