/**
 * Verification's reads of PostgreSQL: a keyset page of conversations and the message rows of exactly
 * that id range, both in one REPEATABLE READ READ ONLY transaction, so a write landing between the two
 * statements cannot show up as a conversation whose messages disagree with its `message_count`. Rows
 * that still do not form a valid conversation become a record with a problem, not an exception, so one
 * corrupt row is reported instead of stopping the run.
 */
import { DataSource, QueryRunner } from 'typeorm';
import type { ConversationRow, MessageRow } from '../stores/postgres/pg-rows';
import type { VerifyRecord } from './domain/verify-record';
import { newRecord } from './row-record';
import type { NewVerifySource } from './verify-sources';

const CONVERSATION_COLUMNS = 'id, user_id, title, metadata, created_at, updated_at, version, deleted, message_count';
const MESSAGE_COLUMNS = 'conversation_id, seq, role, content, created_at';

function records(rows: ConversationRow[], messages: MessageRow[], keepForm: boolean): VerifyRecord[] {
  const byConversation = new Map<string, MessageRow[]>();
  for (const m of messages) {
    const list = byConversation.get(m.conversation_id);
    if (list) list.push(m);
    else byConversation.set(m.conversation_id, [m]);
  }
  return rows.map((row) => newRecord(row, byConversation.get(row.id) ?? [], keepForm));
}

export class PostgresVerifySource implements NewVerifySource {
  constructor(private readonly dataSource: DataSource) {}

  async page(afterId: string | null, untilId: string | null, limit: number): Promise<VerifyRecord[]> {
    return this.snapshot(async (q) => {
      const rows: ConversationRow[] = await q.query(
        `SELECT ${CONVERSATION_COLUMNS} FROM conversations
         WHERE ($1::char(24) IS NULL OR id > $1) AND ($2::char(24) IS NULL OR id <= $2) ORDER BY id LIMIT $3`,
        [afterId, untilId, limit],
      );
      if (rows.length === 0) return [];
      const messages: MessageRow[] = await q.query(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id >= $1 AND conversation_id <= $2 ORDER BY conversation_id, seq`,
        [rows[0].id, rows[rows.length - 1].id],
      );
      return records(rows, messages, false);
    });
  }

  async splitPoints(afterId: string | null, parts: (rows: number) => number): Promise<string[]> {
    // Two passes over the primary key's index, no table row read: the rows left, then every step-th id.
    const [{ n }] = await this.dataSource.query(`SELECT count(*)::bigint AS n FROM conversations WHERE ($1::char(24) IS NULL OR id > $1)`, [
      afterId,
    ]);
    const count = parts(Number(n));
    const step = Math.ceil(Number(n) / count);
    if (count <= 1 || step < 1) return [];
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM conversations WHERE ($1::char(24) IS NULL OR id > $1)) t
       WHERE rn % $2 = 0 AND rn < $3 ORDER BY id`,
      [afterId, step, Number(n)],
    );
    return rows.map((r) => r.id);
  }

  async byIds(ids: readonly string[]): Promise<Map<string, VerifyRecord>> {
    if (ids.length === 0) return new Map();
    const found = await this.snapshot(async (q) => {
      const rows: ConversationRow[] = await q.query(`SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = ANY($1::char(24)[])`, [
        ids,
      ]);
      if (rows.length === 0) return [];
      const messages: MessageRow[] = await q.query(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ANY($1::char(24)[]) ORDER BY conversation_id, seq`,
        [rows.map((r) => r.id)],
      );
      return records(rows, messages, true);
    });
    return new Map(found.map((r) => [r.id, r]));
  }

  private async snapshot<T>(fn: (q: QueryRunner) => Promise<T>): Promise<T> {
    return this.dataSource.transaction('REPEATABLE READ', async (em) => {
      await em.query('SET TRANSACTION READ ONLY');
      return fn(em.queryRunner!);
    });
  }
}
