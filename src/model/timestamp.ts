/**
 * Reading legacy timestamps without guessing. The canonical form keeps milliseconds, so a value is accepted
 * only when it names exactly one millisecond: ISO-8601 date-times need an explicit offset (a bare local time
 * depends on the reader's zone) and sub-millisecond digits must be zero (dropping them would be rounding).
 * Instants are also kept to years 0001..9999, which Mongo Dates, PostgreSQL `timestamptz` and
 * `toISOString()` all represent the same way.
 */

// Literal because Date.UTC maps years 0..99 to 1900..1999.
export const MIN_TIMESTAMP_MS = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
export const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Either a valid Date or why the value is not one. */
export type TimestampResult = { ok: true; date: Date } | { ok: false; problem: string };

/** Strict ISO-8601 date-time with offset, e.g. `2021-03-04T05:06:07.123Z` or `2021-03-04T07:06:07+02:00`. */
export function parseIsoTimestamp(s: string): TimestampResult {
  const m = ISO_DATE_TIME.exec(s);
  if (!m) return { ok: false, problem: 'unparsable date' };
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const fraction = m[7] ?? '';
  if (/[1-9]/.test(fraction.slice(3))) return { ok: false, problem: 'sub-millisecond precision in date' };
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (offsetHours > 23 || offsetMinutes > 59) return { ok: false, problem: 'unparsable date (offset)' };

  // Date.UTC silently rolls over (Feb 30 -> Mar 2), so the fields are checked by reading them back.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0')));
  const valid =
    local.getUTCFullYear() === year &&
    local.getUTCMonth() === month - 1 &&
    local.getUTCDate() === day &&
    local.getUTCHours() === hour &&
    local.getUTCMinutes() === minute &&
    local.getUTCSeconds() === second;
  if (!valid) return { ok: false, problem: 'unparsable date (no such calendar time)' };

  const sign = m[8] === '-' ? -1 : 1;
  return checkRange(local.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
}

/** Milliseconds since the epoch; fractions are refused rather than truncated. */
export function fromEpochMs(ms: number): TimestampResult {
  if (!Number.isFinite(ms)) return { ok: false, problem: 'epoch milliseconds not finite' };
  if (!Number.isInteger(ms)) return { ok: false, problem: 'sub-millisecond precision in epoch milliseconds' };
  return checkRange(ms);
}

/** A Date object as read by a driver; an Invalid Date is refused, never replaced. */
export function fromDate(d: Date): TimestampResult {
  const ms = d.getTime();
  if (Number.isNaN(ms)) return { ok: false, problem: 'Invalid Date' };
  return checkRange(ms);
}

function checkRange(ms: number): TimestampResult {
  if (ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS) {
    return { ok: false, problem: 'date outside years 0001..9999' };
  }
  return { ok: true, date: new Date(ms) };
}
