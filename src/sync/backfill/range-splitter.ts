/**
 * Splits a run's `_id` space into ranges of about `rangeSize` documents with exact counts, in ONE pass
 * over the ids in whatever order the server reads them cheapest (LegacyStore.scanIdSpace), counted in an
 * IdHistogram (bounded memory). Asking for the ids sorted would make a server without an `_id` range
 * scan sort every whole document in memory first; the histogram makes the order irrelevant.
 *
 * It only plans: nothing is written until the whole plan is committed at once (RunRepository.commitSplit),
 * so a split that dies or is paused leaves nothing behind and simply starts again. A run an older
 * version of the splitter left half-split (ranges written one by one) is continued after its last range.
 * The scan's first batch marks the moment the run's snapshot starts: `onProgress` reports it
 * (`scanned: 0` is never reported; the first report comes with that batch).
 */
import type { LegacyStore } from '../../stores/legacy-store.port';
import { IdHistogram, SplitPlan } from './id-histogram';
import type { RunRepository, RunRow } from './run.repository';

/** Range 0 of every run holds the documents whose `_id` is not an ObjectId. */
export const OTHER_IDS_RANGE = 0;

/** Ids per read of the split's scan: small first batches make its start (the snapshot) quick. */
const ID_BATCH = 1000;

export interface SplitProgress {
  scanned: number;
  estimate: number;
}

export interface SplitHooks {
  onProgress(p: SplitProgress): Promise<void>;
  /** Asked between batches; a reason stops the split (nothing is written). */
  shouldStop(): Promise<'paused' | 'stopped' | null>;
}

export type SplitOutcome =
  | { outcome: 'planned'; plan: SplitPlan; firstRangeNo: number; maxId: string | null; estimate: number; ms: number }
  | { outcome: 'paused' | 'stopped'; scanned: number };

export class RangeSplitter {
  constructor(
    private readonly legacy: LegacyStore,
    private readonly runs: RunRepository,
    private readonly rangeSize: number,
  ) {}

  async split(run: RunRow, hooks: SplitHooks): Promise<SplitOutcome> {
    const t0 = performance.now();
    const earlier = await this.runs.lastIdsRange(run.id);
    // The estimate is for the status only: asked alongside the scan so the scan (the snapshot) starts at once.
    let estimate = 0;
    const estimated = this.legacy
      .estimatedCount()
      .then(async (n) => {
        estimate = n;
        await this.runs.setEstimate(run.id, n);
      })
      .catch(() => undefined);
    const histogram = new IdHistogram();
    try {
      for await (const ids of this.legacy.scanIdSpace(ID_BATCH, earlier?.endAt)) {
        for (const id of ids) histogram.add(id);
        await hooks.onProgress({ scanned: histogram.size, estimate });
        const stop = await hooks.shouldStop();
        if (stop) return { outcome: stop, scanned: histogram.size };
      }
    } finally {
      await estimated;
    }
    const plan = histogram.plan(this.rangeSize);
    if (plan.ranges.length > 0 && earlier) plan.ranges[0].startAfter = earlier.endAt;
    return {
      outcome: 'planned',
      plan,
      firstRangeNo: (earlier?.rangeNo ?? OTHER_IDS_RANGE) + 1,
      maxId: plan.maxId ?? earlier?.endAt ?? null,
      estimate,
      ms: performance.now() - t0,
    };
  }
}
