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
import { Conversation, JsonObject, MESSAGE_ROLES, Message, MessageRole } from '../../model/conversation.model';
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

/** A bigint column value as a JS number, refusing values a number cannot hold exactly. */
/**
 * Conversations with their messages in one statement, so in one snapshot (read as two statements, a write
 * committing between them would pair a row with messages it does not have yet). Append a WHERE and ORDER BY.
 */
export const SELECT_WITH_MESSAGES = `
  SELECT c.id, c.user_id, c.title, c.metadata, c.created_at, c.updated_at, c.version, c.deleted, c.message_count,
         COALESCE((SELECT json_agg(json_build_object('seq', m.seq, 'role', m.role, 'content', m.content,
                                                     'created_at', m.created_at) ORDER BY m.seq)
                   FROM messages m WHERE m.conversation_id = c.id), '[]'::json) AS messages
  FROM conversations c`;

/**
 * One conversation with its messages in one statement (one snapshot) as a row per message after the
 * conversation's own (`seq` null), rather than as one JSON value: a long conversation then comes as many small
 * rows, not as one value of its whole size that the driver gathers in buffers it grows by doubling (a read of
 * 1,000 messages allocated about 2 MB of buffers outside the JS heap, which start V8 collections). A message's
 * row has its time in `created_at` and null in the conversation's other columns.
 */
export const SELECT_ONE_WITH_MESSAGE_ROWS = `
  SELECT c.id, c.user_id, c.title, c.metadata, c.created_at, c.updated_at, c.version, c.deleted, c.message_count,
         NULL::integer AS seq, NULL::text AS role, NULL::text AS content
  FROM conversations c WHERE c.id = $1
  UNION ALL
  SELECT NULL, NULL, NULL, NULL, m.created_at, NULL, NULL, NULL, NULL, m.seq, m.role, m.content
  FROM messages m WHERE m.conversation_id = $1
  ORDER BY seq NULLS FIRST`;

export type OneWithMessageRows = ConversationRow & { seq: number | null; role: string | null; content: string | null };

/** The rows of SELECT_ONE_WITH_MESSAGE_ROWS as a conversation, or null when there are none. */
export function fromMessageRows(rows: readonly OneWithMessageRows[]): Conversation | null {
  if (rows.length === 0) return null;
  const head = rows[0];
  if (head.seq !== null) throw new InvalidRowError(`message seq ${head.seq} came without its conversation's row`, head.id);
  const messages: MessageRow[] = [];
  for (let i = 1; i < rows.length; i++) {
    const r = rows[i];
    messages.push({
      conversation_id: head.id,
      seq: r.seq as number,
      role: r.role as string,
      content: r.content as string,
      created_at: r.created_at,
    });
  }
  return fromRows(head, messages);
}

export type RowWithMessages = ConversationRow & { messages: Array<Omit<MessageRow, 'conversation_id'> & { created_at: string }> };

/** A row of SELECT_WITH_MESSAGES as a conversation. */
export function fromJoined(row: RowWithMessages): Conversation {
  const messages = row.messages.map((m) => ({ ...m, conversation_id: row.id, created_at: new Date(m.created_at) }));
  return fromRows(row, messages);
}

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
