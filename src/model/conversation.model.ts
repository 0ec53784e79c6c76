/**
 * The conversation model shared by both stores. Plain TypeScript: no Nest, no driver imports.
 *
 * `id` is the legacy `_id` as 24 lower-case hex characters and is the same in both stores.
 * `version` starts at 0 for a legacy document without `v` and is +1 on every write.
 */
export type MessageRole = 'user' | 'assistant' | 'system' | 'tool';

export const MESSAGE_ROLES: readonly MessageRole[] = ['user', 'assistant', 'system', 'tool'];

export interface Message {
  role: MessageRole;
  content: string;
  createdAt: Date;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface Conversation {
  id: string;
  userId: string;
  title: string | null;
  messages: Message[];
  metadata: JsonObject;
  createdAt: Date;
  updatedAt: Date;
  version: number;
  deleted: boolean;
}

/**
 * A conversation without its messages, as an append reads it when it does not answer with the whole conversation:
 * how many messages it holds and the UTF-8 bytes of their text stand for them.
 */
export interface ConversationHead extends Omit<Conversation, 'messages'> {
  messageCount: number;
  contentBytes: number;
}
