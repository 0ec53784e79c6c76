/**
 * Conversation <-> PostgreSQL rows, matching the migration column for column:
 *   conversations(id char(24) pk, user_id text, title text null, metadata jsonb, created_at timestamptz,
 *                 updated_at timestamptz, version bigint, deleted boolean, message_count integer)
 *   messages(conversation_id char(24) fk on delete cascade, seq integer, role text, content text,
 *            created_at timestamptz, primary key (conversation_id, seq))
 * Messages have their own table (SPEC section 1); `seq` is the 0-based position, and `message_count` lets a
 * reader tell a complete set of message rows from a partial one.
 *
 * `fromRows` checks those invariants and throws `InvalidRowError` instead of returning a conversation that
 * is silently wrong. Row values are used as they are (no copies): rows come fresh from, or go straight to,
 * the driver.
 */
import { Conversation, ConversationHead, JsonObject, MESSAGE_ROLES, Message, MessageRole } from '../../model/conversation.model';
import { InvalidRowError } from '../../model/errors';
import { isPlainObject } from '../../model/json-value';

export interface ConversationRow {
  id: string;
  user_id: string;
  title: string | null;
  metadata: JsonObject;
  created_at: Date;
  updated_at: Date;
  /** bigint: node-postgres returns it as a string, since it may exceed 2^53. */
  version: number | string;
  deleted: boolean;
  message_count: number;
}

export interface MessageRow {
  conversation_id: string;
  seq: number;
  role: string;
  content: string;
  created_at: Date;
}

/** Column order of each table, for INSERT and COPY statements built by the adapter. */
export const CONVERSATION_COLUMNS: readonly (keyof ConversationRow)[] = [
  'id',
  'user_id',
  'title',
  'metadata',
  'created_at',
  'updated_at',
  'version',
  'deleted',
  'message_count',
];
export const MESSAGE_COLUMNS: readonly (keyof MessageRow)[] = ['conversation_id', 'seq', 'role', 'content', 'created_at'];

export function toRows(c: Conversation): { conversation: ConversationRow; messages: MessageRow[] } {
  return {
    conversation: {
      id: c.id,
      user_id: c.userId,
      title: c.title,
      metadata: c.metadata,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      version: c.version,
      deleted: c.deleted,
      message_count: c.messages.length,
    },
    messages: c.messages.map((m, seq) => ({
      conversation_id: c.id,
      seq,
      role: m.role,
      content: m.content,
      created_at: m.createdAt,
    })),
  };
}

/** `messageRows` may come in any order; they must be exactly the conversation's rows 0..message_count-1. */
export function fromRows(row: ConversationRow, messageRows: readonly MessageRow[]): Conversation {
  const fail = (problem: string): never => {
    throw new InvalidRowError(problem, row.id);
  };
  if (!isPlainObject(row.metadata)) fail('metadata: expected a JSON object');
  if (messageRows.length !== row.message_count) {
    fail(`message_count is ${row.message_count} but ${messageRows.length} message rows were given`);
  }
  const sorted = [...messageRows].sort((a, b) => a.seq - b.seq);
  const messages = sorted.map((m, i): Message => {
    if (m.conversation_id !== row.id) fail(`message seq ${m.seq} belongs to ${m.conversation_id}`);
    if (m.seq !== i) fail(`message seq ${m.seq} where ${i} was expected`);
    if (!MESSAGE_ROLES.includes(m.role as MessageRole)) fail(`message seq ${m.seq}: unknown role ${JSON.stringify(m.role)}`);
    return { role: m.role as MessageRole, content: m.content, createdAt: validDate(m.created_at, `messages[${i}].created_at`, fail) };
  });
  return {
    id: row.id,
    userId: row.user_id,
    title: row.title,
    messages,
    metadata: row.metadata,
    createdAt: validDate(row.created_at, 'created_at', fail),
    updatedAt: validDate(row.updated_at, 'updated_at', fail),
    version: parseVersion(row.version, row.id),
    deleted: row.deleted,
  };
}

/** A conversation's row as its head (ConversationHead), `content_bytes` the bytes of its messages' text. */
export function headFromRow(row: ConversationRow & { content_bytes: string | number }): ConversationHead {
  const { messages: _none, ...head } = fromRows({ ...row, message_count: 0 }, []);
  return { ...head, messageCount: row.message_count, contentBytes: Number(row.content_bytes) };
}

/** CONVERSATION_COLUMNS as a column list. */
export const CONVERSATION_COLUMN_LIST = CONVERSATION_COLUMNS.join(', ');

/**
 * One conversation with its messages in one statement (one snapshot) as its row (`seq` null) and a row per
 * message, rather than as one JSON value: a long conversation then comes as many small rows, not as one value of
 * its whole size that the driver gathers in buffers it grows by doubling (a read of 1,000 messages allocated about
 * 2 MB of buffers outside the JS heap, which start V8 collections), and PostgreSQL builds no JSON object per
 * message. A message's row has its conversation's id, its own time in `created_at`, and null in the conversation's
 * other columns.
 */
export const SELECT_ONE_WITH_MESSAGE_ROWS = `
  SELECT ${CONVERSATION_COLUMN_LIST}, NULL::integer AS seq, NULL::text AS role, NULL::text AS content
  FROM conversations c WHERE c.id = $1
  UNION ALL
  SELECT m.conversation_id, NULL, NULL, NULL, m.created_at, NULL, NULL, NULL, NULL, m.seq, m.role, m.content
  FROM messages m WHERE m.conversation_id = $1`;

/**
 * The conversations `where` picks (a condition on `c`; empty: all), in `order`, at most `limit` (a parameter
 * reference) when given, with their messages' rows, as SELECT_ONE_WITH_MESSAGE_ROWS; in one statement, so one
 * snapshot. `ord` numbers the conversations in `order`. Each conversation's messages are read from the primary
 * key's index (LATERAL), as the row-per-conversation read did, and the rows come in no order: sorting them in
 * PostgreSQL would sort every message body (a page of long conversations is megabytes, past `work_mem`).
 */
export function selectWithMessageRows(where: string, order: string, limit?: string): string {
  return `
  WITH picked AS MATERIALIZED (
    SELECT ${CONVERSATION_COLUMN_LIST}, row_number() OVER (ORDER BY ${order})::integer AS ord
    FROM conversations c ${where ? `WHERE ${where}` : ''}
    ORDER BY ${order} ${limit ? `LIMIT ${limit}` : ''})
  SELECT ${CONVERSATION_COLUMN_LIST}, ord, NULL::integer AS seq, NULL::text AS role, NULL::text AS content FROM picked
  UNION ALL
  SELECT m.conversation_id, NULL, NULL, NULL, m.created_at, NULL, NULL, NULL, NULL, NULL, m.seq, m.role, m.content
  FROM picked p CROSS JOIN LATERAL (SELECT * FROM messages WHERE conversation_id = p.id) m`;
}

/** A row of either statement above: a conversation's (`seq` null) or one of its messages'. */
export type WithMessageRows = ConversationRow & { ord?: number | null; seq: number | null; role: string | null; content: string | null };

/**
 * The rows of selectWithMessageRows (or SELECT_ONE_WITH_MESSAGE_ROWS), in any order, as conversations in `ord`
 * order. Every message row must have its conversation's row; fromRows checks that the messages are complete.
 */
export function fromMessageRowsMany(rows: readonly WithMessageRows[]): Conversation[] {
  const heads: WithMessageRows[] = [];
  const messages = new Map<string, MessageRow[]>();
  for (const r of rows) {
    if (r.seq !== null) continue;
    if (messages.has(r.id)) throw new InvalidRowError('the conversation came twice', r.id);
    heads.push(r);
    messages.set(r.id, []);
  }
  for (const r of rows) {
    if (r.seq === null) continue;
    const own = messages.get(r.id);
    if (!own) throw new InvalidRowError(`message seq ${r.seq} came without its conversation's row`, r.id);
    own.push({ conversation_id: r.id, seq: r.seq, role: r.role as string, content: r.content as string, created_at: r.created_at });
  }
  heads.sort((a, b) => (a.ord ?? 0) - (b.ord ?? 0));
  return heads.map((h) => fromRows(h, messages.get(h.id) as MessageRow[]));
}

/** The rows of SELECT_ONE_WITH_MESSAGE_ROWS as a conversation, or null when there are none. */
export function fromMessageRows(rows: readonly WithMessageRows[]): Conversation | null {
  return fromMessageRowsMany(rows)[0] ?? null;
}

/** A bigint column value as a JS number, refusing values a number cannot hold exactly. */
export function parseVersion(value: number | string, id?: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidRowError(`version: expected a non-negative safe integer, got ${JSON.stringify(value)}`, id);
  }
  return n;
}

function validDate(value: Date, path: string, fail: (problem: string) => never): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return fail(`${path}: expected a valid Date`);
  return value;
}
