/**
 * ObjectIds begin with their creation time in seconds (4 bytes, big-endian), so an id can be made that
 * sorts before every id created in a given second: the floor used to re-read an overlap window of inserts.
 */
const HEX_ID = /^[0-9a-f]{24}$/;

/** The hex of an ObjectId (or of a 24-hex string id); undefined for any other kind of id. */
export function hexOf(id: unknown): string | undefined {
  if (typeof id === 'string') return HEX_ID.test(id) ? id : undefined;
  if (id !== null && typeof id === 'object' && typeof (id as { toHexString?: unknown }).toHexString === 'function') {
    const hex = (id as { toHexString(): string }).toHexString();
    return HEX_ID.test(hex) ? hex : undefined;
  }
  return undefined;
}

/** The smallest id created `overlapMs` before `hex` was (never above `hex`). */
export function objectIdFloor(hex: string, overlapMs: number): string {
  const seconds = parseInt(hex.slice(0, 8), 16);
  return firstIdOfSecond(seconds - Math.ceil(overlapMs / 1000));
}

/** The smallest id created in the second of `ms` (epoch milliseconds) or later. */
export function objectIdAt(ms: number): string {
  return firstIdOfSecond(Math.floor(ms / 1000));
}

function firstIdOfSecond(seconds: number): string {
  return Math.max(0, seconds).toString(16).padStart(8, '0') + '0'.repeat(16);
}
