/**
 * A raw legacy document as PostgreSQL `jsonb` can hold it. The input is Extended JSON (types kept), but
 * jsonb refuses NUL and unpaired surrogates, which are exactly what some unreadable documents contain;
 * those characters are written as visible `\uXXXX` text so the dead letter is still recorded. The raw
 * form is for diagnosis: a re-drive reads the document from the legacy store again.
 */
// eslint-disable-next-line no-control-regex -- NUL is one of the characters jsonb refuses: matching it is the point
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function visible(s: string): string {
  return s.replace(UNSTORABLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return visible(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, visible(k), { value: storableJson(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/**
 * The dead-letter key of a document from its raw `_id` (Extended JSON): the hex of an ObjectId, the
 * string of a string id, otherwise the id's Extended JSON text.
 */
export function deadLetterKey(rawId: unknown): string {
  if (rawId !== null && typeof rawId === 'object' && typeof (rawId as { $oid?: unknown }).$oid === 'string')
    return (rawId as { $oid: string }).$oid;
  if (typeof rawId === 'string') return visible(rawId);
  return visible(JSON.stringify(rawId ?? null));
}
