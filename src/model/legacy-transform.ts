/**
 * Legacy document <-> conversation. Reading is strict: every variation the SPEC lists is understood, and
 * anything else (a missing user id, a message without text, a date that names no single millisecond, an
 * unknown field, a string PostgreSQL cannot store) throws `UnreadableDocumentError` naming the field, so the
 * migration dead-letters the document instead of guessing. Where old and new field names are both present
 * and disagree (`user_id`/`userId`, `text`/`content`) that is ambiguous too, and refused.
 *
 * Writing always produces the current format, so `fromLegacy(toLegacy(c))` is `c` in canonical form.
 */
import { Conversation, JsonObject, MESSAGE_ROLES, Message, MessageRole } from './conversation.model';
import { UnreadableDocumentError } from './errors';
import { indexPath, keyPath } from './json-path';
import { cloneJson, isPlainObject, jsonProblems } from './json-value';
import { LEGACY_DOCUMENT_FIELDS, LEGACY_MESSAGE_FIELDS, LegacyDocument, LegacyDocumentOut } from './legacy-document';
import { quote, unstorableReason } from './text-safety';
import { fromDate, fromEpochMs, parseIsoTimestamp, TimestampResult } from './timestamp';

const HEX_ID = /^[0-9a-f]{24}$/;

/** Reads one legacy document (typed `LegacyDocument`, but checked as the untrusted value it is). */
export function fromLegacy(doc: LegacyDocument | Record<string, unknown>): Conversation {
  const raw: unknown = doc;
  if (!isPlainObject(raw)) throw new UnreadableDocumentError(`document: expected an object, got ${quote(raw)}`);
  const id = readId(raw._id);
  const fail = (path: string, problem: string): never => {
    throw new UnreadableDocumentError(`${path}: ${problem}`, id);
  };

  const unknownField = Object.keys(raw).find((k) => !LEGACY_DOCUMENT_FIELDS.includes(k));
  if (unknownField !== undefined) fail(keyPath('', unknownField), 'unknown field');

  const createdAt = readTimestamp(raw.created, 'created', false, fail);
  return {
    id,
    userId: readUserId(raw, fail),
    title: readTitle(raw.title, fail),
    messages: readMessages(raw.messages, fail),
    metadata: readMeta(raw.meta, fail),
    createdAt,
    updatedAt: raw.updated === undefined ? new Date(createdAt.getTime()) : readUpdated(raw.updated, fail),
    version: readVersion(raw.v, fail),
    deleted: readDeleted(raw.deleted, fail),
  };
}

/** The current legacy format; dates and metadata are copied so the caller's conversation is not shared. */
export function toLegacy(c: Conversation): LegacyDocumentOut {
  const out: LegacyDocumentOut = {
    _id: c.id,
    user_id: c.userId,
    title: c.title,
    messages: c.messages.map((m) => ({ role: m.role, text: m.content, ts: new Date(m.createdAt.getTime()) })),
    meta: cloneJson(c.metadata) as JsonObject,
    created: new Date(c.createdAt.getTime()),
    updated: new Date(c.updatedAt.getTime()),
    v: c.version,
  };
  if (c.deleted) out.deleted = true;
  return out;
}

type Fail = (path: string, problem: string) => never;

function readId(value: unknown): string {
  const hex =
    typeof value === 'string'
      ? value
      : value !== null && typeof value === 'object' && typeof (value as { toHexString?: unknown }).toHexString === 'function'
        ? (value as { toHexString(): unknown }).toHexString()
        : undefined;
  if (typeof hex === 'string' && HEX_ID.test(hex)) return hex;
  const problem = value === undefined ? 'missing' : `expected an ObjectId or 24 lower-case hex characters, got ${quote(hex ?? value)}`;
  throw new UnreadableDocumentError(`_id: ${problem}`);
}

function readUserId(doc: Record<string, unknown>, fail: Fail): string {
  if (doc.user_id !== undefined && doc.userId !== undefined && doc.user_id !== doc.userId) {
    fail('user_id', `conflicts with legacy userId ${quote(doc.userId)}`);
  }
  const path = doc.user_id !== undefined ? 'user_id' : 'userId';
  const value = doc[path];
  if (value === undefined) return fail('user_id', 'missing (and no legacy userId)');
  if (typeof value !== 'string' || value === '') return fail(path, `expected a non-empty string, got ${quote(value)}`);
  return storable(value, path, fail);
}

function readTitle(value: unknown, fail: Fail): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return fail('title', `expected a string or null, got ${quote(value)}`);
  return storable(value, 'title', fail);
}

function readMessages(value: unknown, fail: Fail): Message[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return fail('messages', `expected an array, got ${quote(value)}`);
  return value.map((m, i) => readMessage(m, indexPath('messages', i), fail));
}

function readMessage(value: unknown, path: string, fail: Fail): Message {
  if (!isPlainObject(value)) return fail(path, `expected an object, got ${quote(value)}`);
  const unknownField = Object.keys(value).find((k) => !LEGACY_MESSAGE_FIELDS.includes(k));
  if (unknownField !== undefined) fail(keyPath(path, unknownField), 'unknown field');
  return {
    role: readRole(value.role, `${path}.role`, fail),
    content: readBody(value, path, fail),
    createdAt: readTimestamp(value.ts, `${path}.ts`, true, fail),
  };
}

function readRole(value: unknown, path: string, fail: Fail): MessageRole {
  if (typeof value !== 'string') return fail(path, value === undefined ? 'missing' : `expected a string, got ${quote(value)}`);
  const role = value.toLowerCase() as MessageRole;
  if (!MESSAGE_ROLES.includes(role)) return fail(path, `unknown role ${quote(value)}`);
  return role;
}

function readBody(message: Record<string, unknown>, path: string, fail: Fail): string {
  const { text, content } = message;
  if (text !== undefined && content !== undefined && text !== content) {
    fail(`${path}.text`, 'conflicts with legacy content');
  }
  const field = text !== undefined ? 'text' : 'content';
  const value = message[field];
  if (value === undefined) return fail(`${path}.text`, 'missing (and no legacy content)');
  if (typeof value !== 'string') return fail(`${path}.${field}`, `expected a string, got ${quote(value)}`);
  return storable(value, `${path}.${field}`, fail);
}

function readMeta(value: unknown, fail: Fail): JsonObject {
  if (value === undefined) return {};
  if (!isPlainObject(value)) return fail('meta', `expected an object, got ${quote(value)}`);
  const first = jsonProblems(value, 'meta').next();
  if (!first.done) fail(first.value.path, first.value.message);
  return cloneJson(value as JsonObject) as JsonObject;
}

/** `ts` may also be epoch milliseconds; `created` is only ever a Date or an ISO string (SPEC section 1). */
function readTimestamp(value: unknown, path: string, allowEpoch: boolean, fail: Fail): Date {
  let result: TimestampResult;
  if (value instanceof Date) result = fromDate(value);
  else if (typeof value === 'string') result = parseIsoTimestamp(value);
  else if (typeof value === 'number' && allowEpoch) result = fromEpochMs(value);
  else if (value === undefined) return fail(path, 'missing');
  else return fail(path, `expected a Date or ISO-8601 string${allowEpoch ? ' or epoch milliseconds' : ''}, got ${quote(value)}`);
  if (!result.ok) return fail(path, problemWith(result.problem, value));
  return result.date;
}

function readUpdated(value: unknown, fail: Fail): Date {
  if (!(value instanceof Date)) return fail('updated', `expected a Date, got ${quote(value)}`);
  const result = fromDate(value);
  if (!result.ok) return fail('updated', problemWith(result.problem, value));
  return result.date;
}

function readVersion(value: unknown, fail: Fail): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return fail('v', `expected a non-negative integer, got ${quote(value)}`);
  }
  return value;
}

function readDeleted(value: unknown, fail: Fail): boolean {
  if (value === undefined || value === true || value === false) return value === true;
  return fail('deleted', `expected true, false or missing, got ${quote(value)}`);
}

function storable(value: string, path: string, fail: Fail): string {
  const bad = unstorableReason(value);
  return bad === null ? value : fail(path, bad);
}

/** Quotes the offending value, except an Invalid Date, which says nothing more than its problem. */
function problemWith(problem: string, value: unknown): string {
  return value instanceof Date && Number.isNaN(value.getTime()) ? problem : `${problem} ${quote(value)}`;
}
