/**
 * JSON values as both stores keep them. Metadata is free-form, so anything that is not plain JSON (a Date,
 * an ObjectId, NaN, undefined, a class instance) or holds an unstorable string would change on its way into
 * `jsonb`; it is reported, never converted.
 */
import { JsonObject, JsonValue } from './conversation.model';
import { indexPath, keyPath } from './json-path';
import { quote, unstorableReason } from './text-safety';

export interface JsonProblem {
  path: string;
  message: string;
}

export interface JsonWalkOptions {
  /** Extra rule for object keys (the API forbids some); returns why the key is refused, or null. */
  checkKey?: (key: string) => string | null;
  /** Containers allowed, the outermost counting as 1; deeper content is reported once and not walked. */
  maxDepth?: number;
}

/** An object literal or `JSON.parse` result, not an array, Date, ObjectId or other class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Every problem found in `value`, walked depth first; a generator so callers can stop at the first one. */
export function* jsonProblems(value: unknown, path: string, options: JsonWalkOptions = {}, depth = 0): Generator<JsonProblem> {
  if (typeof value === 'string') {
    const bad = unstorableReason(value);
    if (bad) yield { path, message: bad };
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) yield { path, message: `not a finite number: ${quote(value)}` };
    return;
  }
  if (typeof value === 'boolean' || value === null) return;
  const isArray = Array.isArray(value);
  if (!isArray && !isPlainObject(value)) {
    yield { path, message: `not a JSON value: ${quote(value)}` };
    return;
  }
  if (options.maxDepth !== undefined && depth + 1 > options.maxDepth) {
    yield { path, message: `nested more than ${options.maxDepth} levels deep` };
    return;
  }
  if (isArray) {
    for (let i = 0; i < value.length; i++) yield* jsonProblems(value[i], indexPath(path, i), options, depth + 1);
    return;
  }
  // Object.keys, not for..in: a `__proto__` key parsed by JSON.parse is an own key and must be seen.
  for (const key of Object.keys(value)) {
    const childPath = keyPath(path, key);
    const badKey = unstorableReason(key) ?? options.checkKey?.(key) ?? null;
    if (badKey) yield { path: childPath, message: `key ${badKey}` };
    yield* jsonProblems(value[key], childPath, options, depth + 1);
  }
}

/** Sets an own property even for `__proto__`, which plain assignment would treat as the prototype. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy of JSON already checked by `jsonProblems`; `sortKeys` gives the canonical key order. */
export function cloneJson(value: JsonValue, sortKeys = false): JsonValue {
  if (Array.isArray(value)) return value.map((v) => cloneJson(v, sortKeys));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (sortKeys) keys.sort(compareCodeUnits);
  const out: JsonObject = {};
  for (const key of keys) setOwn(out, key, cloneJson(value[key], sortKeys));
  return out;
}

/** Locale-independent order, so every process sorts keys the same way. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The path of the first array held directly in an array (MongoDB stores them, FerretDB v1 does not), or null. */
export function firstNestedArrayPath(value: unknown, path: string, inArray = false): string | null {
  if (Array.isArray(value)) {
    if (inArray) return path;
    for (let i = 0; i < value.length; i++) {
      if (Array.isArray(value[i])) return path;
      const found = firstNestedArrayPath(value[i], indexPath(path, i), true);
      if (found) return found;
    }
    return null;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date) return null;
  for (const key of Object.keys(value)) {
    const found = firstNestedArrayPath((value as Record<string, unknown>)[key], keyPath(path, key));
    if (found) return found;
  }
  return null;
}
