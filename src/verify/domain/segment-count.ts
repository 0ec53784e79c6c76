/**
 * How many `_id` segments a run's walk is split into, so that several workers can walk one run: what the operator
 * asked for, or else one per SEGMENT_CHUNKS chunks of the records to walk, between 1 and MAX_SEGMENTS. A segment
 * costs one more cursor on each store and one more lease; too few leave workers idle at the end of the walk.
 */
export const SEGMENT_CHUNKS = 10;
export const MAX_SEGMENTS = 16;

export function segmentCount(opts: { wanted: number | null; records: number; chunkSize: number }): number {
  if (opts.wanted !== null) return opts.wanted;
  const byRecords = Math.floor(opts.records / (opts.chunkSize * SEGMENT_CHUNKS));
  return Math.min(MAX_SEGMENTS, Math.max(1, byRecords));
}
