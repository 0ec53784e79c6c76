/**
 * How the other store follows a run of acknowledged writes to one conversation without copying it whole:
 * the writes, in the order they were acknowledged, become one guarded store write (a create: insert the
 * last state; appends and header changes: push the new messages and set the last header, on exactly the
 * version the first was made from). Plain TypeScript; null when the run cannot be followed that way (a gap
 * between the versions, a write that replaced everything), and a repair copies the conversation instead.
 */
import type { Conversation, ConversationHead, Message } from '../model/conversation.model';
import type { WriteShape } from '../stores/conversation-store.port';
import type { LegacyWrite } from '../stores/legacy-store.port';

/**
 * One acknowledged write: the state it made from version `from` (null: a create) and what it changed; or an append
 * made on the conversation's head without reading its messages: the head it made and the message it added.
 */
export type WrittenChange = { next: Conversation; from: number | null; shape: WriteShape } | AppendedToHead;

export interface AppendedToHead {
  head: ConversationHead;
  appended: Message;
  from: number;
  shape: 'append';
}

/** The store write that follows them (a plan for the legacy store, which is who follows). */
export type FollowPlan = LegacyWrite;

const versionOf = (ch: WrittenChange) => ('next' in ch ? ch.next.version : ch.head.version);

export function planFollow(changes: readonly WrittenChange[]): FollowPlan | null {
  if (changes.length === 0) return null;
  for (let i = 1; i < changes.length; i++) if (changes[i].from !== versionOf(changes[i - 1])) return null;
  const first = changes[0];
  const last = changes[changes.length - 1];
  // A create is followed by inserting the last state whole, which only a run of whole states gives.
  if (first.from === null) return 'next' in last && changes.every((ch) => 'next' in ch) ? { kind: 'insert', c: last.next } : null;
  let appended = 0;
  let header = false;
  for (const ch of changes) {
    if (ch.shape === 'replace' || ch.from === null) return null;
    if (ch.shape === 'append') appended++;
    else header = true;
  }
  const shape = header ? 'header' : 'append';
  return 'next' in last
    ? { kind: 'update', c: last.next, from: first.from, shape, appended }
    : { kind: 'update', c: lastHead(changes, last), from: first.from, shape, appended, partial: true };
}

/**
 * What the update needs of the run's last state when that state is a head: its header and the messages the run
 * appended, at its end (a partial write: the rest is not the update's business).
 */
function lastHead(changes: readonly WrittenChange[], last: AppendedToHead): Conversation {
  const messages = changes.flatMap((ch) => (ch.shape !== 'append' ? [] : 'next' in ch ? ch.next.messages.slice(-1) : [ch.appended]));
  const { messageCount: _count, contentBytes: _bytes, ...header } = last.head;
  return { ...header, messages };
}
