/**
 * Request bodies are checked by hand against the SPEC limits (domain/limits.ts) rather than by
 * class-transformer, which would copy free-form metadata before anything looked at its keys. Every
 * problem is reported at once; unknown fields are rejected, never dropped.
 */
import { FieldError, ValidationFailedError } from '../common/errors';
import type { JsonObject, MessageRole } from '../model/conversation.model';
import { checkContent, checkMetadata, checkRole, checkTitle, checkUserId, isValidId } from '../model/limits';
import type { CreateInput, PatchInput } from './conversation.service';

export const MAX_MESSAGES_PER_CREATE = 1000;
const MAX_UNKNOWN_FIELD_ERRORS = 20;

function objectBody(body: unknown, allowed: readonly string[]): { fields: Record<string, unknown>; errors: FieldError[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationFailedError([{ field: 'body', message: 'must be a JSON object' }]);
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !allowed.includes(k));
  // A body full of bad keys must not produce an answer larger than itself.
  const errors = unknown.slice(0, MAX_UNKNOWN_FIELD_ERRORS).map((k) => ({ field: k.slice(0, 100), message: 'is not an accepted field' }));
  if (unknown.length > MAX_UNKNOWN_FIELD_ERRORS) errors.push({ field: 'body', message: `${unknown.length - MAX_UNKNOWN_FIELD_ERRORS} more unknown fields` });
  return { fields, errors };
}

const MAX_ERRORS = 100;

function done<T>(errors: FieldError[], value: T): T {
  if (errors.length > MAX_ERRORS) {
    throw new ValidationFailedError([...errors.slice(0, MAX_ERRORS), { field: 'body', message: `${errors.length - MAX_ERRORS} more problems not listed` }]);
  }
  if (errors.length > 0) throw new ValidationFailedError(errors);
  return value;
}

function message(value: unknown, field: string, errors: FieldError[]): { role: MessageRole; content: string } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push({ field, message: 'must be an object with role and content' });
    return undefined;
  }
  const m = value as Record<string, unknown>;
  for (const k of Object.keys(m)) if (k !== 'role' && k !== 'content') errors.push({ field: `${field}.${k.slice(0, 100)}`, message: 'is not an accepted field' });
  errors.push(...checkRole(m.role, `${field}.role`), ...checkContent(m.content, `${field}.content`));
  return { role: m.role as MessageRole, content: m.content as string };
}

export function parseCreate(body: unknown): CreateInput {
  const { fields, errors } = objectBody(body, ['userId', 'title', 'messages', 'metadata']);
  errors.push(...checkUserId(fields.userId), ...checkTitle(fields.title));
  if (fields.metadata !== undefined) errors.push(...checkMetadata(fields.metadata));
  let messages: CreateInput['messages'];
  if (fields.messages !== undefined) {
    if (!Array.isArray(fields.messages)) errors.push({ field: 'messages', message: 'must be an array' });
    else if (fields.messages.length > MAX_MESSAGES_PER_CREATE) errors.push({ field: 'messages', message: `must have at most ${MAX_MESSAGES_PER_CREATE} items` });
    else messages = fields.messages.map((m, i) => message(m, `messages[${i}]`, errors)!);
  }
  return done(errors, {
    userId: fields.userId as string,
    title: (fields.title as string | null | undefined) ?? null,
    messages,
    metadata: fields.metadata as JsonObject | undefined,
  });
}

export function parsePatch(body: unknown): PatchInput {
  const { fields, errors } = objectBody(body, ['title', 'metadata']);
  if (!('title' in fields) && !('metadata' in fields)) errors.push({ field: 'body', message: 'must change title or metadata' });
  errors.push(...checkTitle(fields.title));
  if ('metadata' in fields) errors.push(...checkMetadata(fields.metadata));
  return done(errors, { title: fields.title as string | null | undefined, metadata: fields.metadata as JsonObject | undefined });
}

export function parseMessage(body: unknown): { role: MessageRole; content: string } {
  const errors: FieldError[] = [];
  const m = message(body, 'body', errors);
  return done(errors.map((e) => ({ ...e, field: e.field.replace(/^body\./, '') })), m!);
}

export function parseId(id: string): string {
  if (!isValidId(id)) throw new ValidationFailedError([{ field: 'id', message: 'must be 24 lower-case hex characters' }]);
  return id;
}

/** `If-Match: 7` or `If-Match: "7"` (the ETag as sent); anything else is a 400, not a silent ignore. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!match) throw new ValidationFailedError([{ field: 'If-Match', message: 'must be a conversation version, e.g. "3"' }]);
  return Number(match[1]);
}

export function parseListQuery(query: Record<string, unknown>): { userId: string; limit: number; cursor?: string } {
  const errors: FieldError[] = [];
  for (const k of Object.keys(query)) if (!['userId', 'limit', 'cursor'].includes(k)) errors.push({ field: k.slice(0, 100), message: 'is not an accepted query parameter' });
  const { userId, limit, cursor } = query;
  if (typeof userId !== 'string') errors.push({ field: 'userId', message: 'is required, once' });
  else errors.push(...checkUserId(userId));
  let n = 20;
  if (limit !== undefined) {
    if (typeof limit !== 'string' || !/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 100) errors.push({ field: 'limit', message: 'must be an integer from 1 to 100' });
    else n = Number(limit);
  }
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length > 200)) errors.push({ field: 'cursor', message: 'must be a cursor this API issued' });
  return done(errors, { userId: userId as string, limit: n, cursor: cursor as string | undefined });
}
