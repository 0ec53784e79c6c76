/**
 * Conversations read straight from PostgreSQL's tables with the store's own statement (SELECT_WITH_MESSAGES:
 * each conversation with its message rows in one statement, so one snapshot) and row mapper.
 */
import type { Client } from 'pg';
import type { Conversation } from '../../src/model/conversation.model';
import { fromJoined, RowWithMessages, SELECT_WITH_MESSAGES } from '../../src/stores/postgres/pg-rows';

/** Every conversation (or the one with `id`), in id order. */
export async function readPgConversations(pg: Client, id?: string): Promise<Conversation[]> {
  const { rows } = await pg.query<RowWithMessages>(
    `${SELECT_WITH_MESSAGES} ${id === undefined ? '' : 'WHERE c.id = $1'} ORDER BY c.id`,
    id === undefined ? [] : [id],
  );
  return rows.map(fromJoined);
}
