/**
 * Where the next chunk ends. Both stores are read in ascending id order into buffers of at least
 * `limit` records (or everything left). A chunk must cover the same id range on both sides, and no more
 * than `limit` records of either, so memory stays flat even when one side has a long run of ids the other
 * lacks (a store that is mostly missing, or mostly extra). The chunk therefore ends at the smaller of the
 * two sides' `limit`-th id; a side with no more than `limit` records left does not bound it. When neither
 * does, the chunk is everything left: it is the last one.
 */
export interface BufferedSide {
  /** Buffered ids, ascending. */
  ids: readonly string[];
  /** The store has nothing beyond the buffer. */
  exhausted: boolean;
}

/** The last id (inclusive) of the next chunk, or null when the chunk takes everything left. */
export function chunkUpperBound(legacy: BufferedSide, next: BufferedSide, limit: number): string | null {
  let upper: string | null = null;
  for (const side of [legacy, next]) {
    // A side holding exactly `limit` records and nothing beyond fits in this chunk whole: no bound.
    if (side.ids.length > limit || (side.ids.length === limit && !side.exhausted)) {
      const candidate = side.ids[limit - 1];
      if (upper === null || candidate < upper) upper = candidate;
    } else if (!side.exhausted) {
      throw new Error('a side was not filled before taking a chunk');
    }
  }
  return upper;
}

/** How many of the ascending `ids` are at or below `upper` (all when upper is null). */
export function countUpTo(ids: readonly string[], upper: string | null): number {
  if (upper === null) return ids.length;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] <= upper) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
