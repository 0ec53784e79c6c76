/**
 * VerifyRepairer: the repair mode. Each confirmed difference is copied from the source of truth of the
 * current phase (legacy until `deprecation`, including before dual writes start) by RepairService.repairFromTruth,
 * which converges one record by content under a compare-and-set, so a live write racing the repair is
 * never overwritten by an older copy. Then the batch is verified again from both stores: equal ones are
 * marked repaired; the others keep (updated) findings and the reason the copy gave, and still count.
 *
 * Not repaired: documents already dead-lettered (unreadable: an operator fixes them in the legacy store
 * and re-drives them); documents stored under a string `_id`, which the conversation API reads as
 * absent and so would "repair" by deleting the copy; and, once the new store is the source of truth,
 * records only the legacy store has: the copy would delete what may be the only copy of them.
 */
import { Phase } from '../model/phases';
import type { MigrationModeService } from '../mode/migration-mode.service';
import type { RepairService } from '../repair/repair.service';
import { compareRecord } from './domain/compare';
import { forEachLimit } from '../common/for-each-limit';
import { readBoth } from './point-reads';
import { Rechecker } from './rechecker';
import type { RunContext } from './run-context';
import type { ReportKind } from './verify.schemas';
import type { VerifyMetrics } from './verify.metrics';
import type { Classified, VerifyRunRepository } from './verify-run.repository';
import type { LegacyVerifySource, NewVerifySource } from './verify-sources';

const BATCH = 100;
const CONCURRENCY = 8;
/** After `deprecation` the legacy store is retired: nothing is copied into it any more. */
const NO_REPAIR_PHASES: readonly Phase[] = ['cleanup', 'complete'];

export function repairRefusal(phase: Phase): string | null {
  return NO_REPAIR_PHASES.includes(phase) ? `repair is not available in phase ${phase}: the legacy store is retired` : null;
}

export class VerifyRepairer {
  constructor(
    private readonly legacy: LegacyVerifySource,
    private readonly next: NewVerifySource,
    private readonly runs: VerifyRunRepository,
    private readonly repairs: RepairService,
    private readonly mode: MigrationModeService,
    private readonly metrics: VerifyMetrics,
  ) {}

  /** Repairs every confirmed difference it can; returns a note when repair was not possible at all. */
  async repairAll(ctx: RunContext): Promise<string | null> {
    const mode = await this.mode.current();
    const refusal = repairRefusal(mode.phase);
    if (refusal) return refusal;
    let after = '';
    for (;;) {
      ctx.checkStop();
      const batch = await this.runs.unrepaired(ctx.run.id, after, BATCH);
      if (batch.length === 0) return null;
      after = batch[batch.length - 1].id;
      const failures = new Map<string, string>();
      await forEachLimit(batch, CONCURRENCY, async ({ id, kind }) => {
        try {
          if (kind === 'missing' && mode.sourceOfTruth === 'new') {
            failures.set(id, 'not repaired: only the legacy store has it, and copying "absent" would delete the only copy; investigate');
            return;
          }
          if (await this.legacy.hasStringId(id)) {
            failures.set(
              id,
              'not repaired: the legacy document has a string _id, which the conversation API cannot address; fix it by hand',
            );
            return;
          }
          // Decided again under the fence: the copy goes from whatever is the source of truth when it is made.
          await this.repairs.repairFromTruth(id);
        } catch (err) {
          failures.set(id, `repair failed: ${(err as Error).message}`);
        }
      });
      const seen = await readBoth(
        this.legacy,
        this.next,
        batch.map((b) => b.id),
      );
      const repaired: string[] = [];
      const still = [];
      for (const { id } of batch) {
        const finding = compareRecord(id, seen.legacy.get(id), seen.next.get(id));
        if (finding === null) repaired.push(id);
        else still.push({ ...finding, reason: failures.get(id) ?? finding.reason });
      }
      const classified: Classified[] = await Rechecker.classify(this.runs, still);
      await this.runs.commitRepair(ctx.run, ctx.worker, new Map<string, ReportKind>(batch.map((b) => [b.id, b.kind])), {
        repaired,
        still: classified,
      });
      this.metrics.repaired.inc(repaired.length);
    }
  }
}
