/**
 * Lanes: the ranges of a run (1..total, in `_id` order) cut into `lanes` contiguous blocks of nearly
 * equal length. A lane is what one reader copies with ONE cursor, range after range; ranges stay the
 * unit of leases, checkpoints and progress. Pure, so every process computes the same layout from the
 * two numbers stored with the run.
 */

export interface LaneBounds {
  lane: number;
  first: number;
  last: number;
}

function clampLanes(total: number, lanes: number): number {
  return Math.max(1, Math.min(total, Math.floor(lanes)));
}

/** Lane `k` (0-based) of `lanes` over ranges 1..total. */
export function laneBounds(total: number, lanes: number, k: number): LaneBounds {
  const n = clampLanes(total, lanes);
  return { lane: k, first: 1 + Math.floor((k * total) / n), last: Math.floor(((k + 1) * total) / n) };
}

/** Every lane, in `_id` order; none when there are no ranges. */
export function allLanes(total: number, lanes: number): LaneBounds[] {
  if (total < 1) return [];
  const n = clampLanes(total, lanes);
  return Array.from({ length: n }, (_, k) => laneBounds(total, n, k));
}

/** The lane holding `rangeNo` (1..total), or null when it is outside. */
export function laneOf(total: number, lanes: number, rangeNo: number): LaneBounds | null {
  if (!Number.isSafeInteger(rangeNo) || rangeNo < 1 || rangeNo > total) return null;
  return allLanes(total, lanes).find((l) => rangeNo >= l.first && rangeNo <= l.last) ?? null;
}
