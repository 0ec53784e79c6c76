/**
 * Conversations as PostgreSQL `COPY ... FROM STDIN` text (the default text format: tab-separated columns,
 * `\N` for NULL, backslash escapes), in the column order of pg-rows.ts, for the bulk writes of the sync.
 * The values are the rows toRows makes, so what COPY loads is exactly what the row-by-row statements write:
 * timestamps as ISO-8601 with milliseconds and `Z`, metadata as its JSON text, booleans as `t`/`f`.
 * Text the transform accepted never holds NUL (PostgreSQL cannot store it), so every string can be encoded.
 */
import type { Conversation } from '../../model/conversation.model';
import { CONVERSATION_COLUMNS, MESSAGE_COLUMNS, toRows } from './pg-rows';

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPES = /[\\\t\n\r]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text value of COPY's text format. */
export function copyText(s: string): string {
  if (s.includes('\0')) throw new RangeError('COPY text cannot hold NUL');
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESCAPED[c]) : s;
}

export const CONVERSATIONS_COPY_COLUMNS = CONVERSATION_COLUMNS.join(', ');
export const MESSAGES_COPY_COLUMNS = MESSAGE_COLUMNS.join(', ');

export interface CopyBatch {
  /** One line per conversation. */
  conversations: string;
  /** One line per message, conversation after conversation. */
  messages: string;
  messageCount: number;
}

export function copyBatch(conversations: readonly Conversation[]): CopyBatch {
  const conv: string[] = [];
  const msgs: string[] = [];
  for (const c of conversations) {
    const { conversation: r, messages } = toRows(c);
    conv.push(
      `${r.id}\t${copyText(r.user_id)}\t${r.title === null ? '\\N' : copyText(r.title)}\t${copyText(JSON.stringify(r.metadata))}\t` +
        `${r.created_at.toISOString()}\t${r.updated_at.toISOString()}\t${r.version}\t${r.deleted ? 't' : 'f'}\t${r.message_count}\n`,
    );
    for (const m of messages)
      msgs.push(`${m.conversation_id}\t${m.seq}\t${m.role}\t${copyText(m.content)}\t${m.created_at.toISOString()}\n`);
  }
  return { conversations: conv.join(''), messages: msgs.join(''), messageCount: msgs.length };
}
