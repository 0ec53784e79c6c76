/**
 * RangeSplitter: cuts the legacy `_id` space of a run into ranges of `rangeSize` documents by reading
 * only the ids, in order (projected, streamed: memory stays flat). Each range is written and handed to
 * `onRange` as soon as its end is known, so workers start copying while the split goes on.
 *
 * The split is resumable: the last range written is its checkpoint (a resumed split continues after its
 * `end_at`). Two processes splitting one run cannot both add a range: range numbers are a primary key,
 * and the one that loses a number stops. The last range ends at the largest id seen (`max_id`);
 * documents inserted later are catch-up's, which copies every id above it.
 */
import type { LegacyStore } from '../../stores/legacy-store.port';
import type { RunRepository, RunRow } from './run.repository';

/** Range 0 of every run holds the documents whose `_id` is not an ObjectId. */
export const OTHER_IDS_RANGE = 0;

export interface SplitResult {
  ranges: number;
  complete: boolean;
  maxId: string | null;
}

export class RangeSplitter {
  constructor(
    private readonly legacy: LegacyStore,
    private readonly runs: RunRepository,
    private readonly rangeSize: number,
  ) {}

  async split(run: RunRow, onRange: (rangeNo: number) => Promise<void>): Promise<SplitResult> {
    if (await this.runs.addRange(run.id, OTHER_IDS_RANGE, 'other_ids', null, null, 0)) await onRange(OTHER_IDS_RANGE);
    const last = await this.runs.lastIdsRange(run.id);
    let rangeNo = last?.rangeNo ?? 0;
    let startAfter: string | null = last?.endAt ?? null;
    let count = 0;
    let lastId: string | null = startAfter;
    let added = 0;

    const add = async (endAt: string): Promise<boolean> => {
      if (!(await this.runs.addRange(run.id, rangeNo + 1, 'ids', startAfter, endAt, count))) return false;
      rangeNo++;
      added++;
      await onRange(rangeNo);
      startAfter = endAt;
      count = 0;
      return true;
    };

    for await (const id of this.legacy.scanIds(startAfter ?? undefined)) {
      count++;
      lastId = id;
      if (count === this.rangeSize && !(await add(id))) return { ranges: added, complete: false, maxId: null };
    }
    if (count > 0 && !(await add(lastId!))) return { ranges: added, complete: false, maxId: null };
    await this.runs.completeSplit(run.id, lastId);
    return { ranges: added, complete: true, maxId: lastId };
  }
}
