/**
 * Conversations read straight from PostgreSQL's tables with the store's own statement (selectWithMessageRows:
 * each conversation's row and its message rows in one statement, so one snapshot) and row mapper.
 */
import type { Client } from 'pg';
import type { Conversation } from '../../src/model/conversation.model';
import { fromMessageRowsMany, selectWithMessageRows, WithMessageRows } from '../../src/stores/postgres/pg-rows';

/** Every conversation (or the one with `id`), in id order. */
export async function readPgConversations(pg: Client, id?: string): Promise<Conversation[]> {
  const { rows } = await pg.query<WithMessageRows>(
    selectWithMessageRows(id === undefined ? '' : 'c.id = $1', 'c.id'),
    id === undefined ? [] : [id],
  );
  return fromMessageRowsMany(rows);
}
