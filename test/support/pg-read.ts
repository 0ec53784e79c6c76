/**
 * Conversations read straight from PostgreSQL's tables, each with its message rows, in one statement and so
 * one snapshot: read as two statements, a write committing between them pairs a conversation row with
 * messages it does not have yet (or no longer has), and `fromRows` rightly refuses the pair.
 */
import type { Client } from 'pg';
import type { Conversation } from '../../src/model/conversation.model';
import { ConversationRow, fromRows, MessageRow } from '../../src/stores/postgres/pg-rows';

type Row = ConversationRow & { message_rows: Array<Omit<MessageRow, 'created_at'> & { created_at: string }> };

/** Every conversation (or the one with `id`), in id order, through the same row mapper as the store. */
export async function readPgConversations(pg: Client, id?: string): Promise<Conversation[]> {
  const { rows } = await pg.query<Row>(
    `SELECT c.*, COALESCE((SELECT json_agg(m ORDER BY m.seq) FROM messages m WHERE m.conversation_id = c.id), '[]'::json) AS message_rows
     FROM conversations c ${id === undefined ? '' : 'WHERE c.id = $1'} ORDER BY c.id`,
    id === undefined ? [] : [id],
  );
  return rows.map(({ message_rows, ...c }) =>
    fromRows(
      c,
      message_rows.map((m) => ({ ...m, created_at: new Date(m.created_at) })),
    ),
  );
}
