/**
 * Strings both stores can hold faithfully. PostgreSQL `text` and `jsonb` reject NUL, and a lone UTF-16
 * surrogate cannot be encoded as UTF-8 (it would be replaced, i.e. silently changed), so such strings are
 * refused at every entry point instead of being altered.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` cannot be stored unchanged, or null when it can. */
export function unstorableReason(s: string): string | null {
  const nul = s.indexOf('\u0000');
  if (nul >= 0) return `contains a NUL character at index ${nul}`;
  const lone = LONE_SURROGATE.exec(s);
  if (lone) return `contains a lone UTF-16 surrogate at index ${lone.index}`;
  return null;
}

/** Length in Unicode code points: what a user counts as characters better than UTF-16 units (an emoji is 1). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A value quoted for an error message: JSON escaping keeps the message itself storable, and it stays short. */
export function quote(value: unknown, max = 60): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  }
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'Invalid' : value.toISOString()})`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return `${typeof value} ${String(value)}`;
}
