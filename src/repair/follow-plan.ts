/**
 * How the other store follows a run of acknowledged writes to one conversation without copying it whole:
 * the writes, in the order they were acknowledged, become one guarded store write (a create: insert the
 * last state; appends and header changes: push the new messages and set the last header, on exactly the
 * version the first was made from). Plain TypeScript; null when the run cannot be followed that way (a gap
 * between the versions, a write that replaced everything), and a repair copies the conversation instead.
 */
import type { Conversation } from '../model/conversation.model';
import type { WriteShape } from '../stores/conversation-store.port';
import type { LegacyWrite } from '../stores/legacy-store.port';

/** One acknowledged write: the state it made from version `from` (null: a create) and what it changed. */
export interface WrittenChange {
  next: Conversation;
  from: number | null;
  shape: WriteShape;
}

/** The store write that follows them (a plan for the legacy store, which is who follows). */
export type FollowPlan = LegacyWrite;

export function planFollow(changes: readonly WrittenChange[]): FollowPlan | null {
  if (changes.length === 0) return null;
  for (let i = 1; i < changes.length; i++) if (changes[i].from !== changes[i - 1].next.version) return null;
  const first = changes[0];
  const last = changes[changes.length - 1].next;
  if (first.from === null) return { kind: 'insert', c: last };
  let appended = 0;
  let header = false;
  for (const ch of changes) {
    if (ch.shape === 'replace' || ch.from === null) return null;
    if (ch.shape === 'append') appended++;
    else header = true;
  }
  return { kind: 'update', c: last, from: first.from, shape: header ? 'header' : 'append', appended };
}
