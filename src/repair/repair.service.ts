/**
 * Makes the secondary store equal to the source of truth for one conversation. It compares content
 * (canonical form), not just versions, and writes with a compare-and-set on the version it saw, so:
 * - repairs are idempotent and their order does not matter (each copies the current state);
 * - a concurrent live write is never overwritten by an older copy (the CAS fails and it looks again);
 * - a version the source of truth never acknowledged (its write failed after the secondary took it)
 *   is replaced, because equal versions with different content still count as different.
 */
import { Inject, Injectable } from '@nestjs/common';
import { canonicalJson } from '../conversations/domain/canonical';
import type { Conversation } from '../conversations/domain/conversation.model';
import { MigrationModeService } from '../conversations/migration-mode.service';
import { ConversationStore, LEGACY_STORE, NEW_STORE, StoreName } from '../stores/conversation-store.port';

export type RepairOutcome = 'in_sync' | 'repaired' | 'skipped';

const MAX_ROUNDS = 5;
/** Longer than a secondary write may take, so an in-flight live write has landed in both stores or failed. */
const AHEAD_GRACE_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function same(a: Conversation | null, b: Conversation | null): boolean {
  if (a === null || b === null) return a === b;
  return canonicalJson(a) === canonicalJson(b);
}

@Injectable()
export class RepairService {
  constructor(
    @Inject(LEGACY_STORE) private readonly legacy: ConversationStore,
    @Inject(NEW_STORE) private readonly newStore: ConversationStore,
    private readonly mode: MigrationModeService,
  ) {}

  store(name: StoreName): ConversationStore {
    return name === 'legacy' ? this.legacy : this.newStore;
  }

  /**
   * `recordedSource` is the source of truth when the divergence was recorded. If the source of truth has
   * changed since (the flip into deprecation, or a rollback out of it, came in between), the store that
   * acknowledged the write is the recorded one: copying the current source of truth over it would undo an
   * acknowledged write. Then the copy goes from the recorded source and only forward: a store that has
   * moved on since (a higher version, written under the new source of truth) is left as it is.
   */
  async repair(id: string, recordedSource?: StoreName): Promise<RepairOutcome> {
    const mode = await this.mode.current();
    // Outside dual-write the other store is not kept in step on purpose (not started yet, or retired).
    if (!mode.dualWrite) return 'skipped';
    const from = recordedSource ?? mode.sourceOfTruth;
    return this.copy(id, this.store(from), this.store(from === 'legacy' ? 'new' : 'legacy'), { forwardOnly: from !== mode.sourceOfTruth });
  }

  /** `forwardOnly`: never replace a copy that is ahead of the source (see repair). */
  async copy(id: string, source: ConversationStore, target: ConversationStore, { forwardOnly = false } = {}): Promise<RepairOutcome> {
    for (let round = 0, wrote = false; round < MAX_ROUNDS; round++) {
      const [truth, copy] = await Promise.all([source.get(id), target.get(id)]);
      if (same(truth, copy)) return wrote ? 'repaired' : 'in_sync';
      const ahead = truth === null || (copy !== null && copy.version > truth.version);
      if (ahead && forwardOnly) return wrote ? 'repaired' : 'skipped';
      wrote = true;
      if (ahead) await this.replaceAhead(id, source, target, copy!);
      else if (copy === null) await target.insertNew(truth!);
      else await target.compareAndSet(truth!, copy.version);
    }
    throw new Error(`conversation ${id} kept changing during ${MAX_ROUNDS} repair rounds; will retry`);
  }

  /**
   * The copy is ahead of the source of truth, or exists where it does not. That is normal for an instant (the two writes of one
   * request run concurrently) and wrong only when the source of truth's write failed. So look again
   * after a grace period and replace the copy only if it is still ahead at the same version.
   */
  private async replaceAhead(id: string, source: ConversationStore, target: ConversationStore, copy: Conversation): Promise<void> {
    await sleep(AHEAD_GRACE_MS);
    const [truth, again] = await Promise.all([source.get(id), target.get(id)]);
    if (again === null || again.version !== copy.version) return;
    if (truth === null) await target.removeExact(id, again.version);
    else if (truth.version < again.version) await target.compareAndSet(truth, again.version);
  }
}
