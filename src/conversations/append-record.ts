/**
 * A keyed append's record of what it wrote, and its answer given again from a later state of the conversation.
 * Plain TypeScript: the retry of an attempt that landed unacknowledged and the replay of a completed one both use it.
 */
import type { Conversation, Message } from '../model/conversation.model';
import { AppendAttempt, messageSha256 } from './idempotency.service';

/**
 * The conversation as the append `p` recorded wrote it, if `c` holds that write; else null. Versions only grow and
 * messages are never removed: the message at the recorded position, with the recorded time, is this append's if the
 * conversation moved past the version it was based on. What it wrote is then the messages up to its own, its version
 * and time, on the header it was based on (also if the conversation was deleted since).
 */
export function appendAsLanded(p: AppendAttempt, c: Conversation): Conversation | null {
  if (c.version <= p.baseVersion) return null;
  const m = c.messages[p.index];
  const ours = !!m && m.role === p.role && m.createdAt.toISOString() === p.at && messageSha256(m.content) === p.contentSha256;
  if (!ours) return null;
  return {
    ...c,
    title: p.title !== undefined ? p.title : c.title,
    metadata: p.metadata ?? c.metadata,
    messages: c.messages.slice(0, p.index + 1),
    updatedAt: new Date(p.at),
    version: p.baseVersion + 1,
    deleted: false,
  };
}

/**
 * An append's answer when the client asked for it without the whole conversation (`Prefer: return=minimal`): the
 * conversation's header as the append left it, and the message it added, at `index`.
 */
export interface Appended {
  head: Omit<Conversation, 'messages'>;
  index: number;
  message: Message;
}

/** The append `a` answered with, whole or not; null when `a` is not an append's answer (its last message is not timed as the write). */
export function appendedOf(a: Conversation | Appended): Appended | null {
  if (!('messages' in a)) return a;
  const { messages, ...head } = a;
  const index = messages.length - 1;
  const message = messages[index];
  if (!message || message.createdAt.getTime() !== a.updatedAt.getTime()) return null;
  return { head, index, message };
}

/**
 * What a keyed append stores as its response: the write it made (a few hundred bytes), not the conversation it
 * answered with, which grows with every message. appendAsLanded gives that conversation again from any later state.
 */
export function appendRecord({ head, index, message }: Appended): AppendAttempt {
  return {
    kind: 'append',
    id: head.id,
    baseVersion: head.version - 1,
    index,
    role: message.role,
    contentSha256: messageSha256(message.content),
    at: head.updatedAt.toISOString(),
    title: head.title,
    metadata: head.metadata,
  };
}
