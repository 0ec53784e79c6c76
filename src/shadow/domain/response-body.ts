/**
 * The HTTP mirror compares response bodies the way the stores are compared: each body is read back into
 * a conversation and put in canonical form. Reading is lenient only where both APIs may legitimately
 * differ in spelling (timestamps as ISO strings or epoch milliseconds, role case, absent metadata);
 * anything else that is not a conversation is reported, never guessed.
 */
import { canonical, CanonicalConversation } from '../../model/canonical';
import type { Conversation, JsonObject, Message, MessageRole } from '../../model/conversation.model';
import { MESSAGE_ROLES } from '../../model/conversation.model';
import { isPlainObject } from '../../model/json-value';
import { fromEpochMs, parseIsoTimestamp } from '../../model/timestamp';
import { Compared, comparePages, compareRecords } from './comparison';

export type BodyResult<T> = { ok: true; value: T } | { ok: false; problem: string };

function timestamp(value: unknown, field: string): Date {
  const r =
    typeof value === 'string'
      ? parseIsoTimestamp(value)
      : typeof value === 'number'
        ? fromEpochMs(value)
        : { ok: false as const, problem: 'missing' };
  if (!r.ok) throw new Error(`${field}: ${r.problem}`);
  return r.date;
}

function message(value: unknown, i: number): Message {
  if (!isPlainObject(value)) throw new Error(`messages[${i}]: not an object`);
  const role = typeof value.role === 'string' ? value.role.toLowerCase() : '';
  if (!(MESSAGE_ROLES as readonly string[]).includes(role)) throw new Error(`messages[${i}].role: not a known role`);
  const content = value.content ?? value.text;
  if (typeof content !== 'string') throw new Error(`messages[${i}].content: not a string`);
  return { role: role as MessageRole, content, createdAt: timestamp(value.createdAt ?? value.ts, `messages[${i}].createdAt`) };
}

function conversation(body: unknown): Conversation {
  if (!isPlainObject(body)) throw new Error('not an object');
  const { id, userId, title, messages, metadata, version } = body;
  if (typeof id !== 'string') throw new Error('id: not a string');
  if (typeof userId !== 'string') throw new Error('userId: not a string');
  if (title !== undefined && title !== null && typeof title !== 'string') throw new Error('title: not a string');
  if (messages !== undefined && !Array.isArray(messages)) throw new Error('messages: not an array');
  if (metadata !== undefined && !isPlainObject(metadata)) throw new Error('metadata: not an object');
  if (version !== undefined && !Number.isSafeInteger(version)) throw new Error('version: not an integer');
  const createdAt = timestamp(body.createdAt, 'createdAt');
  return {
    id,
    userId,
    title: title ?? null,
    messages: ((messages as unknown[] | undefined) ?? []).map(message),
    metadata: (metadata as JsonObject | undefined) ?? {},
    createdAt,
    updatedAt: body.updatedAt === undefined ? createdAt : timestamp(body.updatedAt, 'updatedAt'),
    version: (version as number | undefined) ?? 0,
    deleted: body.deleted === true,
  };
}

export function conversationFromBody(body: unknown): BodyResult<Conversation> {
  try {
    return { ok: true, value: conversation(body) };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}

/** A page body (`{items: [...]}`, other fields such as cursors are each API's own business). */
export function pageFromBody(body: unknown): BodyResult<Conversation[]> {
  if (!isPlainObject(body) || !Array.isArray(body.items)) return { ok: false, problem: 'not a page ({items: [...]})' };
  const items: Conversation[] = [];
  for (let i = 0; i < body.items.length; i++) {
    const r = conversationFromBody(body.items[i]);
    if (!r.ok) return { ok: false, problem: `items[${i}]: ${r.problem}` };
    items.push(r.value);
  }
  return { ok: true, value: items };
}

export interface HttpReply {
  status: number;
  body?: unknown;
}

export type Endpoint = 'get' | 'list';

/**
 * Our reply against the legacy application's. A status difference is reported on its own (`status`); a
 * 200 against a 404 counts as a version difference (one side may not have the record yet). Equal non-200
 * statuses match without looking at the bodies (error bodies are each API's own).
 */
export function compareReplies(endpoint: Endpoint, ours: HttpReply, theirs: HttpReply): Compared {
  const none = { leftVersion: null, rightVersion: null };
  if (ours.status !== theirs.status) {
    const absence = [ours.status, theirs.status].sort().join() === '200,404';
    return { ...none, versionsDiffer: absence, differences: [{ path: 'status', left: ours.status, right: theirs.status }] };
  }
  if (ours.status !== 200) return { ...none, versionsDiffer: false, differences: [] };
  if (endpoint === 'get') {
    const [a, b] = [conversationFromBody(ours.body), conversationFromBody(theirs.body)];
    if (!a.ok || !b.ok) return { ...none, versionsDiffer: false, differences: [bodyProblem(a, b)] };
    return compareRecords(canonical(a.value), canonical(b.value));
  }
  const [a, b] = [pageFromBody(ours.body), pageFromBody(theirs.body)];
  if (!a.ok || !b.ok) return { ...none, versionsDiffer: false, differences: [bodyProblem(a, b)] };
  return comparePages(a.value.map(canonical), b.value.map(canonical));
}

function bodyProblem(a: BodyResult<unknown>, b: BodyResult<unknown>) {
  return { path: 'body', left: a.ok ? 'readable' : `unreadable: ${a.problem}`, right: b.ok ? 'readable' : `unreadable: ${b.problem}` };
}

/** The canonical content of a reply, for calibration: a conversation, a page, or null when there is none. */
export function replyContent(endpoint: Endpoint, reply: HttpReply): CanonicalConversation | CanonicalConversation[] | null {
  if (reply.status !== 200) return null;
  if (endpoint === 'get') {
    const r = conversationFromBody(reply.body);
    return r.ok ? canonical(r.value) : null;
  }
  const r = pageFromBody(reply.body);
  return r.ok ? r.value.map(canonical) : null;
}
