/**
 * The one canonical form every comparison uses (verification, shadow comparison, tests), so two stores agree
 * exactly when their canonical JSON is equal. It keeps what the model means and drops what a store happens to
 * do: timestamps are ISO strings to the millisecond, metadata keys are sorted at every level, and -0 is 0 (JSON
 * and jsonb cannot tell them apart). Anything that is not JSON throws: coercing it could make two different
 * conversations look equal.
 */
import { createHash } from 'node:crypto';
import { Conversation, JsonObject, JsonValue, MessageRole } from './conversation.model';
import { indexPath, keyPath } from './json-path';
import { compareCodeUnits, isPlainObject, setOwn } from './json-value';

export interface CanonicalMessage {
  role: MessageRole;
  content: string;
  createdAt: string;
}

export interface CanonicalConversation {
  id: string;
  userId: string;
  title: string | null;
  messages: CanonicalMessage[];
  metadata: JsonObject;
  createdAt: string;
  updatedAt: string;
  version: number;
  deleted: boolean;
}

export interface CanonicalDifference {
  path: string;
  /** `undefined` when the path is absent on that side (e.g. an extra message or metadata key). */
  left: unknown;
  right: unknown;
}

export function canonical(c: Conversation): CanonicalConversation {
  if (!isPlainObject(c.metadata)) throw new TypeError(`cannot canonicalise ${c.id}: metadata is not an object`);
  return {
    id: c.id,
    userId: c.userId,
    title: c.title ?? null,
    messages: c.messages.map((m) => ({
      role: m.role.toLowerCase() as MessageRole,
      content: m.content,
      createdAt: m.createdAt.toISOString(),
    })),
    metadata: sortedJson(c.metadata, 'metadata', c.id) as JsonObject,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    version: c.version,
    deleted: c.deleted === true,
  };
}

/** Deterministic JSON: keys sorted at every level, no whitespace. Accepts either form to save a pass. */
export function canonicalJson(c: Conversation | CanonicalConversation): string {
  return stableStringify(toCanonical(c));
}

/** sha256 (hex) of `canonicalJson`, for comparing stores without shipping whole documents. */
export function canonicalHash(c: Conversation | CanonicalConversation): string {
  return createHash('sha256').update(canonicalJson(c), 'utf8').digest('hex');
}

/**
 * Every differing path, e.g. `title`, `messages[2].content`, `metadata.a.b`, `messages.length`. Arrays of
 * different lengths report `.length`, the differences in their common part and each extra element.
 */
export function diffCanonical(a: CanonicalConversation, b: CanonicalConversation): CanonicalDifference[] {
  const out: CanonicalDifference[] = [];
  diffValues(a, b, '', out);
  return out;
}

function toCanonical(c: Conversation | CanonicalConversation): CanonicalConversation {
  return typeof c.createdAt === 'string' ? (c as CanonicalConversation) : canonical(c as Conversation);
}

function sortedJson(value: unknown, path: string, id: string): JsonValue {
  if (Array.isArray(value)) return value.map((v, i) => sortedJson(v, indexPath(path, i), id));
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort(compareCodeUnits)) {
      setOwn(out, key, sortedJson(value[key], keyPath(path, key), id));
    }
    return out;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return value === 0 ? 0 : value;
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  throw new TypeError(`cannot canonicalise ${id}: ${path}: not a JSON value`);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const fields = Object.keys(obj)
      .sort(compareCodeUnits)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value);
}

function diffValues(left: unknown, right: unknown, path: string, out: CanonicalDifference[]): void {
  if (Array.isArray(left) && Array.isArray(right)) {
    if (left.length !== right.length) out.push({ path: `${path}.length`, left: left.length, right: right.length });
    for (let i = 0; i < Math.max(left.length, right.length); i++) diffValues(left[i], right[i], indexPath(path, i), out);
    return;
  }
  if (isPlainObject(left) && isPlainObject(right)) {
    const keys = [...Object.keys(left), ...Object.keys(right).filter((k) => !Object.hasOwn(left, k))];
    for (const key of keys) {
      diffValues(ownValue(left, key), ownValue(right, key), keyPath(path, key), out);
    }
    return;
  }
  if (!Object.is(left, right)) out.push({ path, left, right });
}

/** Own properties only: a metadata key named `constructor` must not read Object.prototype.constructor. */
function ownValue(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
