/**
 * Store errors that refuse a value rather than fail a command (the counterpart of dependency-errors.ts, which
 * recognises outages): the request's input, not the service, is at fault, so the answer is a 4xx naming the
 * store. Recognised by codes, without importing the drivers. The adapters classify the refusals they can
 * name a field for themselves (StoreRefusedError); this catches the rest.
 */
import type { RefusingStore } from './errors';

/**
 * PostgreSQL SQLSTATE classes 22 (data exception: invalid text such as U+0000, out-of-range numbers, bad JSON)
 * and 54 (program limit exceeded: a value too large to index or store).
 */
const PG_REFUSAL_STATE = /^(22...|54...)$/;

/** MongoDB server codes: BadValue, DollarPrefixedFieldName, BSONObjectTooLarge, KeyTooLong. */
const MONGO_REFUSAL_CODES = new Set([2, 52, 10334, 17280]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  driverError?: unknown;
  cause?: unknown;
}

/** The store that refused a value in this error's chain, or null. */
export function refusingStore(err: unknown): RefusingStore | null {
  const seen = new Set<unknown>();
  const pending: unknown[] = [err];
  while (pending.length > 0) {
    const e = pending.shift() as ErrorLike | null | undefined;
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    if (typeof e.code === 'string' && PG_REFUSAL_STATE.test(e.code)) return 'new';
    if (e.name === 'MongoServerError' && typeof e.code === 'number' && MONGO_REFUSAL_CODES.has(e.code)) return 'legacy';
    pending.push(e.driverError, e.cause);
  }
  return null;
}
