/** The conversation API's DTO classes, made from its schemas (conversation.schemas.ts): nothing here can drift. */
import { apiDto } from '../http/openapi';
import type { Conversation } from '../model/conversation.model';
import type { Appended } from './append-record';
import {
  AppendedMessageSchema,
  ConversationAnswer,
  ConversationIdSchema,
  ConversationPageSchema,
  ConversationSchema,
  CreateConversationSchema,
  ListConversationsSchema,
  MessageInputSchema,
  PatchConversationSchema,
} from './conversation.schemas';

export class CreateConversationDto extends apiDto(CreateConversationSchema) {}
export class PatchConversationDto extends apiDto(PatchConversationSchema) {}
export class MessageInputDto extends apiDto(MessageInputSchema) {}
export class ConversationIdDto extends apiDto(ConversationIdSchema) {}
export class ListConversationsDto extends apiDto(ListConversationsSchema) {}
export class ConversationDto extends apiDto(ConversationSchema) {}
export class ConversationPageDto extends apiDto(ConversationPageSchema) {}
export class AppendedMessageDto extends apiDto(AppendedMessageSchema) {}

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

/** An append's minimal answer (Prefer: return=minimal). */
export function toAppendedDto({ head, index, message }: Appended) {
  return {
    id: head.id,
    version: head.version,
    updatedAt: head.updatedAt.toISOString(),
    messageCount: index + 1,
    message: { role: message.role, content: message.content, createdAt: message.createdAt.toISOString() },
  };
}

export const etag = (version: number) => `"${version}"`;
