/**
 * The new store on PostgreSQL. TypeORM owns the connection and the migrations; the statements here
 * are hand-written SQL because the guarantees live in them:
 * - a conversation row and its messages change together: a write of one conversation, and putMany's batch, is
 *   one statement (the messages are written only for the rows its guarded statement wrote, see `write`), the
 *   staged batch runs in the caller's transaction; the row's UPDATE takes the row lock first, so concurrent
 *   writers of one conversation are serialised by PostgreSQL;
 * - `putMany` is one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE ... WHERE version <`
 *   per batch: set-based, version-guarded, and it reports which ids it actually wrote;
 * - `update` writes only what changed (WriteShape): an append is the row's guarded UPDATE and one message
 *   INSERT in one statement, whatever the conversation's length;
 * - `putManyStaged` is putMany for the sync's large batches: the batch is loaded with `COPY` into two
 *   temporary tables of the session (no WAL, emptied at commit), then merged with the same guarded
 *   `INSERT ... ON CONFLICT DO UPDATE WHERE version <`, so it writes exactly what putMany would, with a
 *   fraction of the parsing (no array literals of every message body).
 */
import type { ClientBase } from 'pg';
import { copyIn } from './copy-in';
import { DataSource, QueryRunner } from 'typeorm';
import type { Conversation, ConversationHead, Message } from '../../model/conversation.model';
import {
  CONVERSATION_COLUMN_LIST,
  ConversationRow,
  fromMessageRows,
  fromMessageRowsMany,
  headFromRow,
  MessageRow,
  SELECT_ONE_WITH_MESSAGE_ROWS,
  selectWithMessageRows,
  toRows,
} from './pg-rows';
import { CONVERSATIONS_COPY_COLUMNS, copyBatch, MESSAGES_COPY_COLUMNS } from './copy-text';
import type {
  ListPosition,
  OutboxRecord,
  PutResult,
  StoreRefusal,
  StoreTransaction,
  TransactionalStore,
  WriteShape,
} from '../conversation-store.port';

export class PostgresConversationStore implements TransactionalStore {
  readonly name = 'new' as const;

  constructor(private readonly dataSource: DataSource) {}

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  /** `q`: read inside that transaction (a fenced write reads through the fence's own connection). */
  async get(id: string, q?: StoreTransaction): Promise<Conversation | null> {
    return fromMessageRows(await (q ?? this.dataSource).query(SELECT_ONE_WITH_MESSAGE_ROWS, [id]));
  }

  /**
   * The conversation's row without its messages: their count, and their text's bytes summed by PostgreSQL (read from
   * the messages' primary key; nothing of them crosses the wire).
   */
  async head(id: string, q?: StoreTransaction): Promise<ConversationHead | null> {
    const rows = await (q ?? this.dataSource).query<Array<ConversationRow & { content_bytes: string | number }>>(
      `SELECT ${CONVERSATION_COLUMN_LIST},
              (SELECT coalesce(sum(octet_length(m.content)), 0) FROM messages m WHERE m.conversation_id = c.id) AS content_bytes
       FROM conversations c WHERE c.id = $1`,
      [id],
    );
    return rows.length === 0 ? null : headFromRow(rows[0]);
  }

  async getMany(ids: string[]): Promise<Conversation[]> {
    if (ids.length === 0) return [];
    return fromMessageRowsMany(await this.dataSource.query(selectWithMessageRows('c.id = ANY($1)', 'c.id'), [ids]));
  }

  /** Every write of one conversation is one statement (see write), so it needs no transaction of its own. */
  async insertNew(c: Conversation, tx?: StoreTransaction): Promise<boolean> {
    return (await this.write(tx ?? this.dataSource, c, null, 'replace')).wrote;
  }

  async compareAndSet(c: Conversation, expectedVersion: number, tx?: StoreTransaction): Promise<boolean> {
    return (await this.write(tx ?? this.dataSource, c, expectedVersion, 'replace')).wrote;
  }

  /**
   * The guard is the version and the message count (`message_count` says which rows exist): an append inserts
   * row `n - 1` of `n`, a header change keeps the rows.
   */
  async update(c: Conversation, expectedVersion: number, shape: WriteShape, tx?: StoreTransaction): Promise<boolean> {
    return (await this.write(tx ?? this.dataSource, c, expectedVersion, shape)).wrote;
  }

  async writeRecorded(
    c: Conversation,
    expectedVersion: number | null,
    shape: WriteShape,
    record: OutboxRecord,
    tx: StoreTransaction,
  ): Promise<string | null> {
    return (await this.write(tx, c, expectedVersion, shape, record)).outboxId;
  }

  /**
   * One write, in one statement: the guarded statement on the conversation's row (rowWrite); the outbox record
   * when there is one, only if the row was written; and for a whole write, the messages, only if the row was
   * written: rows past the new end removed, the others upserted where they differ (as putMany). The
   * sub-statements touch different rows, and the messages' foreign key is checked at the statement's end, when
   * a new conversation's row is there.
   */
  private async write(
    q: StoreTransaction,
    c: Conversation,
    expectedVersion: number | null,
    shape: WriteShape,
    record?: OutboxRecord,
  ): Promise<{ wrote: boolean; outboxId: string | null }> {
    return this.run(q, rowWrite(c, expectedVersion, shape), record);
  }

  private async run(q: StoreTransaction, w: RowWrite, record?: OutboxRecord): Promise<{ wrote: boolean; outboxId: string | null }> {
    const ctes = [...w.ctes, `written AS (${w.last})`];
    const params = [...w.params];
    const next = (value: unknown) => `$${params.push(value)}`;
    if (record) {
      ctes.push(
        `recorded AS (INSERT INTO repair_outbox (conversation_id, source, reason)
                      SELECT id, ${next(record.source)}::text, ${next(record.reason)}::text FROM written RETURNING id)`,
      );
    }
    if (w.messages) ctes.push(...writtenMessages(w.messages, next));
    const rows = await q.query<Array<{ outbox_id: string | number | null }>>(
      `WITH ${ctes.join(',\n')}
       SELECT ${record ? '(SELECT id FROM recorded)' : 'NULL'} AS outbox_id FROM written`,
      params,
    );
    if (rows.length === 0) return { wrote: false, outboxId: null };
    return { wrote: true, outboxId: rows[0].outbox_id === null ? null : String(rows[0].outbox_id) };
  }

  async appendAfter(next: ConversationHead, message: Message, expectedVersion: number, record: OutboxRecord | null, tx: StoreTransaction) {
    const row = appendRow(next.id, next.updatedAt, next.version, next.messageCount, expectedVersion, message);
    const { wrote, outboxId } = await this.run(tx, row, record ?? undefined);
    return { wrote, outboxId };
  }

  async follow(c: Conversation, from: number, shape: WriteShape, tx?: StoreTransaction): Promise<PutResult> {
    if (shape !== 'replace' && (await this.update(c, from, shape, tx))) return 'written';
    return this.putIfNewer(c, tx);
  }

  async removeExact(id: string, expectedVersion: number, tx?: StoreTransaction): Promise<boolean> {
    // TypeORM answers an UPDATE or DELETE with [rows, affected].
    const [, count] = await (tx ?? this.dataSource).query('DELETE FROM conversations WHERE id = $1 AND version = $2', [
      id,
      expectedVersion,
    ]);
    return count === 1;
  }

  async putIfNewer(c: Conversation, tx?: StoreTransaction): Promise<PutResult> {
    const written = await this.putMany([c], tx);
    return written.length === 1 ? 'written' : 'stale';
  }

  /**
   * Version-guarded bulk write; returns the ids written (absent or older before). One statement, as `write`: the
   * guarded upsert of the rows, then the messages of the conversations it wrote: rows past their new end removed,
   * the others upserted where they differ.
   */
  async putMany(conversations: Conversation[], q?: StoreTransaction): Promise<string[]> {
    if (conversations.length === 0) return [];
    const rows = conversations.map(toRows);
    const params: unknown[] = columnsOf(rows.map((r) => r.conversation));
    const next = (value: unknown) => `$${params.push(value)}`;
    const messages = rows.flatMap((r) => r.messages);
    const written: Array<{ id: string }> = await (q ?? this.dataSource).query(
      `WITH written AS (
         INSERT INTO conversations (${CONVERSATION_COLUMN_LIST})
         SELECT * FROM unnest($1::char(24)[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[],
                              $6::timestamptz[], $7::bigint[], $8::boolean[], $9::integer[])
         ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, title = EXCLUDED.title,
           metadata = EXCLUDED.metadata, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
           version = EXCLUDED.version, deleted = EXCLUDED.deleted, message_count = EXCLUDED.message_count
         WHERE conversations.version < EXCLUDED.version
         RETURNING id, message_count),
       ${writtenMessages(messages, next).join(',\n')}
       SELECT id FROM written`,
      params,
    );
    return written.map((w) => w.id);
  }

  /** PostgreSQL holds whatever the API's input rules let through (they refuse the NUL it cannot store). */
  async refusal(): Promise<StoreRefusal | null> {
    return null;
  }

  /**
   * putMany through COPY (see the header), in the caller's transaction. Messages of conversations it inserted
   * are inserted; those of conversations it updated are made exactly the staged ones (rows past the end
   * removed, the others upserted where they differ), as putMany does.
   */
  async putManyStaged(conversations: Conversation[], q: QueryRunner): Promise<string[]> {
    if (conversations.length === 0) return [];
    const client = (await q.connect()) as ClientBase;
    // Made once per session (a creation rolled back with its transaction is made again by the next one); rows
    // an earlier call in this transaction left are removed (they are emptied at every commit anyway).
    await q.query(
      `CREATE TEMP TABLE IF NOT EXISTS ${STAGE_CONVERSATIONS} (LIKE conversations INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
       CREATE TEMP TABLE IF NOT EXISTS ${STAGE_MESSAGES} (LIKE messages INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
       DELETE FROM ${STAGE_CONVERSATIONS}; DELETE FROM ${STAGE_MESSAGES}`,
    );
    const text = copyBatch(conversations);
    await copyIn(client, `COPY ${STAGE_CONVERSATIONS} (${CONVERSATIONS_COPY_COLUMNS}) FROM STDIN`, text.conversations);
    if (text.messageCount > 0) await copyIn(client, `COPY ${STAGE_MESSAGES} (${MESSAGES_COPY_COLUMNS}) FROM STDIN`, text.messages);
    const written: Array<{ id: string; inserted: boolean }> = await q.query(
      `INSERT INTO conversations (${CONVERSATION_COLUMN_LIST}) SELECT ${CONVERSATION_COLUMN_LIST} FROM ${STAGE_CONVERSATIONS}
       ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, title = EXCLUDED.title,
         metadata = EXCLUDED.metadata, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
         version = EXCLUDED.version, deleted = EXCLUDED.deleted, message_count = EXCLUDED.message_count
       WHERE conversations.version < EXCLUDED.version
       RETURNING id, (xmax = 0) AS inserted`,
    );
    if (text.messageCount > 0) {
      const inserted = written.filter((w) => w.inserted).map((w) => w.id);
      if (inserted.length === conversations.length) await q.query(`INSERT INTO messages SELECT * FROM ${STAGE_MESSAGES}`);
      else if (inserted.length > 0)
        await q.query(`INSERT INTO messages SELECT * FROM ${STAGE_MESSAGES} WHERE conversation_id = ANY($1::char(24)[])`, [inserted]);
    }
    const updated = written.filter((w) => !w.inserted).map((w) => w.id);
    if (updated.length > 0) {
      await q.query(
        `DELETE FROM messages m USING ${STAGE_CONVERSATIONS} s
         WHERE s.id = ANY($1::char(24)[]) AND m.conversation_id = s.id AND m.seq >= s.message_count`,
        [updated],
      );
      await q.query(
        `INSERT INTO messages SELECT * FROM ${STAGE_MESSAGES} WHERE conversation_id = ANY($1::char(24)[])
         ON CONFLICT (conversation_id, seq) DO UPDATE SET role = EXCLUDED.role, content = EXCLUDED.content,
           created_at = EXCLUDED.created_at
         WHERE (messages.role, messages.content, messages.created_at)
               IS DISTINCT FROM (EXCLUDED.role, EXCLUDED.content, EXCLUDED.created_at)`,
        [updated],
      );
    }
    return written.map((w) => w.id);
  }

  async listByUser(userId: string, limit: number, after?: ListPosition): Promise<Conversation[]> {
    const params: unknown[] = [userId, limit];
    let cursor = '';
    if (after) {
      params.push(after.createdAt, after.id);
      cursor = 'AND (c.created_at, c.id) < ($3, $4)';
    }
    const rows = await this.dataSource.query(
      selectWithMessageRows(`c.user_id = $1 AND NOT c.deleted ${cursor}`, 'c.created_at DESC, c.id DESC', '$2'),
      params,
    );
    return fromMessageRowsMany(rows);
  }

  async transaction<T>(fn: (q: QueryRunner) => Promise<T>): Promise<T> {
    // TypeORM's transaction: one connection, committed when fn resolves, rolled back when it throws.
    return this.dataSource.transaction((em) => fn(em.queryRunner!));
  }
}

const STAGE_CONVERSATIONS = 'sync_stage_conversations';
const STAGE_MESSAGES = 'sync_stage_messages';

/**
 * The CTEs that make the messages of the conversations a `written` CTE (id, message_count) wrote exactly those of
 * `messages` (read from the parameters `param` adds): rows past each one's message_count removed, the others
 * upserted where they differ. Conversations it did not write keep their rows.
 */
function writtenMessages(messages: readonly MessageRow[], param: (value: unknown) => string): string[] {
  const column = (pick: (m: MessageRow) => unknown, type: string) => `${param(messages.map(pick))}::${type}[]`;
  return [
    `trimmed AS (DELETE FROM messages m USING written w WHERE m.conversation_id = w.id AND m.seq >= w.message_count)`,
    `upserted AS (INSERT INTO messages (conversation_id, seq, role, content, created_at)
    SELECT k.* FROM unnest(${column((m) => m.conversation_id, 'char(24)')}, ${column((m) => m.seq, 'integer')},
                           ${column((m) => m.role, 'text')}, ${column((m) => m.content, 'text')},
                           ${column((m) => m.created_at, 'timestamptz')})
      AS k(conversation_id, seq, role, content, created_at) WHERE k.conversation_id IN (SELECT id FROM written)
    ON CONFLICT (conversation_id, seq) DO UPDATE SET role = EXCLUDED.role, content = EXCLUDED.content,
      created_at = EXCLUDED.created_at
    WHERE (messages.role, messages.content, messages.created_at)
          IS DISTINCT FROM (EXCLUDED.role, EXCLUDED.content, EXCLUDED.created_at))`,
  ];
}

function conversationParams(r: ConversationRow): unknown[] {
  return [r.id, r.user_id, r.title, JSON.stringify(r.metadata), r.created_at, r.updated_at, r.version, r.deleted, r.message_count];
}

function columnsOf(rows: ConversationRow[]): unknown[][] {
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.user_id),
    rows.map((r) => r.title),
    rows.map((r) => JSON.stringify(r.metadata)),
    rows.map((r) => r.created_at),
    rows.map((r) => r.updated_at),
    rows.map((r) => r.version),
    rows.map((r) => r.deleted),
    rows.map((r) => r.message_count),
  ];
}

/**
 * The guarded statement of a write on the conversation's row, as common table expressions and a last
 * data-modifying statement that returns `id` when it wrote: an insert of an absent id (`expectedVersion` null),
 * or an update guarded by the version (and, for an append or a header change, by the message count). `messages`,
 * for a whole write (which also returns `message_count`): the rows the same statement writes after it (see write).
 */
type RowWrite = { ctes: string[]; last: string; params: unknown[]; messages?: MessageRow[] };

function rowWrite(c: Conversation, expectedVersion: number | null, shape: WriteShape): RowWrite {
  const n = c.messages.length;
  if (expectedVersion === null || shape === 'replace') {
    const { conversation, messages } = toRows(c);
    return expectedVersion === null
      ? {
          ctes: [],
          last: `INSERT INTO conversations (${CONVERSATION_COLUMN_LIST}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO NOTHING RETURNING id, message_count`,
          params: conversationParams(conversation),
          messages,
        }
      : {
          ctes: [],
          last: `UPDATE conversations SET user_id = $2, title = $3, metadata = $4, created_at = $5, updated_at = $6,
                        version = $7, deleted = $8, message_count = $9
                 WHERE id = $1 AND version = $10 RETURNING id, message_count`,
          params: [...conversationParams(conversation), expectedVersion],
          messages,
        };
  }
  if (shape === 'header') {
    return {
      ctes: [],
      last: `UPDATE conversations SET title = $2, metadata = $3, updated_at = $4, version = $5, deleted = $6
             WHERE id = $1 AND version = $7 AND message_count = $8 RETURNING id`,
      params: [c.id, c.title, JSON.stringify(c.metadata), c.updatedAt, c.version, c.deleted, expectedVersion, n],
    };
  }
  if (n === 0) throw new RangeError('an append writes at least one message');
  return appendRow(c.id, c.updatedAt, c.version, n, expectedVersion, c.messages[n - 1]);
}

/**
 * An append: the row's version and message count bumped, guarded by the version it was made from and by the count
 * before it (`n - 1`), and message `m` inserted as row `n - 1`, only if the row was.
 */
function appendRow(id: string, updatedAt: Date, version: number, n: number, expectedVersion: number, m: Message): RowWrite {
  return {
    ctes: [
      `bumped AS (
         UPDATE conversations SET updated_at = $2, version = $3, message_count = $4
         WHERE id = $1 AND version = $5 AND message_count = $4 - 1
         RETURNING id)`,
    ],
    last: `INSERT INTO messages (conversation_id, seq, role, content, created_at)
           SELECT id, $4::integer - 1, $6::text, $7::text, $8::timestamptz FROM bumped
           RETURNING conversation_id AS id`,
    params: [id, updatedAt, version, n, expectedVersion, m.role, m.content, m.createdAt],
  };
}
