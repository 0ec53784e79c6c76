/**
 * Makes one store's copy of a conversation equal to another's. It compares content (canonical form), not
 * just versions, and writes with a compare-and-set on the version it saw, so:
 * - repairs are idempotent and their order does not matter (each copies the current state);
 * - a concurrent live write is never overwritten by an older copy (the CAS fails and it looks again);
 * - a version the source of truth never acknowledged (its write failed after the other store took it)
 *   is replaced, because equal versions with different content still count as different.
 *
 * Every round runs inside the write fence, under the phase as it is at that moment: a copy can move a store
 * backwards (it replaces a version the source of truth never took, or removes a record it does not have), and
 * that is only right while the store it copies from is still the source of truth. A round decided under one
 * phase can therefore never land under another. The cutover, which holds the fence exclusively (no write in
 * flight), settles its rows with `settled` rounds that take no fence.
 *
 * Following (`followChanges`): a follow-up that carries the writes it stands for (legacy follows the new store
 * in deprecation) is settled by writing just those changes to legacy, each run guarded by the version it was
 * made from (see follow-plan.ts), for many conversations in one fenced transaction that also removes their
 * rows, and in one request to legacy (LegacyStore.writeMany). A write guarded by the exact previous version
 * lands only on the state it was made from, so it can never move legacy backwards nor past a write it missed;
 * whatever does not land that way is repaired as above.
 */
import { Inject, Injectable } from '@nestjs/common';
import { canonicalJson } from '../model/canonical';
import type { Conversation } from '../model/conversation.model';
import type { MigrationMode } from '../model/phases';
import { otherStore } from '../model/phases';
import { WRITE_FENCE } from '../mode/mode.tokens';
import type { WriteFence } from '../mode/write-fence';
import { ConversationStore, LEGACY_STORE, NEW_STORE, StoreTransaction, TransactionalStore } from '../stores/conversation-store.port';
import type { LegacyStore } from '../stores/legacy-store.port';
import { planFollow, WrittenChange } from './follow-plan';
import { StoreName } from '../model/store-name';
import type { OutboxEntry, PostgresRepairOutbox } from './repair-outbox';

export const POSTGRES_OUTBOX = Symbol('POSTGRES_OUTBOX');

export type RepairOutcome = 'in_sync' | 'repaired' | 'skipped';

const MAX_ROUNDS = 5;
/** Longer than a secondary write may take, so an in-flight live write has landed in both stores or failed. */
const AHEAD_GRACE_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function same(a: Conversation | null, b: Conversation | null): boolean {
  if (a === null || b === null) return a === b;
  return canonicalJson(a) === canonicalJson(b);
}

/** Which way one repair copies, decided under the phase of the round. */
interface Direction {
  from: StoreName;
  /** Never replace a copy that is ahead of the source. */
  forwardOnly: boolean;
}

/** A follow-up with the writes it stands for (null: not known, only a repair settles it). */
export interface FollowEntry {
  entry: OutboxEntry;
  changes: WrittenChange[] | null;
}

/**
 * Per entry of `followChanges`: its changes landed (its rows are removed), it needs a repair (they could not land
 * as changes: a gap, a flip, legacy elsewhere), or the store failed (the rows stay for the replayer).
 */
export type FollowOutcome = 'applied' | 'repair' | 'failed';

/** What one round did: done (with the outcome), or wrote / must wait out the grace before another look. */
type Round = { done: RepairOutcome } | { wrote: true } | { aheadAt: number };

/**
 * A repair's options. `settled`: the caller holds the write fence exclusively (a phase change), so the repair
 * takes no fence of its own and runs under `mode`; `tx`, with it: the caller's transaction, in which the new
 * store's reads and writes and the settled rows' removal run (the cutover bounds its lock waits that way).
 */
export interface SettledOptions {
  mode?: MigrationMode;
  settled?: boolean;
  tx?: StoreTransaction;
}

@Injectable()
export class RepairService {
  constructor(
    @Inject(LEGACY_STORE) private readonly legacy: LegacyStore,
    @Inject(NEW_STORE) private readonly newStore: TransactionalStore,
    @Inject(WRITE_FENCE) private readonly fence: WriteFence,
    @Inject(POSTGRES_OUTBOX) private readonly outbox: PostgresRepairOutbox,
  ) {}

  store(name: StoreName): ConversationStore {
    return name === 'legacy' ? this.legacy : this.newStore;
  }

  /**
   * A recorded divergence. `recordedSource` is the source of truth when it was recorded. If the source of
   * truth has changed since (the flip into deprecation, or a rollback out of it, came in between), the store
   * that acknowledged the write is the recorded one: copying the current source of truth over it would undo
   * an acknowledged write. Then the copy goes from the recorded source and only forward: a store that has
   * moved on since (a higher version, written under the new source of truth) is left as it is.
   * Outside dual-write the other store is not kept in step on purpose (not started yet, or retired): skipped.
   */
  repair(id: string, recordedSource?: StoreName, options: SettledOptions = {}): Promise<RepairOutcome> {
    const direction = (mode: MigrationMode): Direction | null => {
      if (!mode.dualWrite) return null;
      const from = recordedSource ?? mode.sourceOfTruth;
      return { from, forwardOnly: from !== mode.sourceOfTruth };
    };
    return options.settled ? this.rounds(id, direction, options.mode, options.tx) : this.rounds(id, direction);
  }

  /** Verification's repair mode: the other store made equal to the source of truth, whatever the phase. */
  repairFromTruth(id: string): Promise<RepairOutcome> {
    return this.rounds(id, (mode) => ({ from: mode.sourceOfTruth, forwardOnly: false }));
  }

  /**
   * Repairs what one outbox entry stands for, then removes its rows (they are settled whatever came of it), and
   * the conversation's parked rows from the same store (a repair copies the current state, which covers them).
   */
  async settle(entry: OutboxEntry, options: SettledOptions = {}): Promise<RepairOutcome> {
    const outcome = await this.repair(entry.conversationId, entry.source, options);
    await this.outbox.removeSettled(entry.outboxIds ?? [], entry.conversationId, entry.source, options.settled ? options.tx : undefined);
    return outcome;
  }

  /** The rows of a repair that cannot succeed until someone fixes the record: out of the replayer's passes. */
  park(entry: OutboxEntry): Promise<void> {
    return this.outbox.park(entry.outboxIds ?? []);
  }

  /**
   * Settles follow-ups of the new store (legacy follows it in deprecation) by applying their changes to legacy,
   * all in one fenced transaction: under the phase of that moment (only while the new store is still the
   * source of truth and writes are dual), and the rows of what landed removed in it.
   */
  async followChanges(batch: readonly FollowEntry[]): Promise<FollowOutcome[]> {
    return this.fence.write(async (w) => {
      const following = w.mode.dualWrite && w.mode.sourceOfTruth === 'new';
      const outcomes: FollowOutcome[] = batch.map(() => 'repair');
      const plans = batch.map(({ entry, changes }) => (following && entry.source === 'new' && changes ? planFollow(changes) : null));
      const sent = plans.flatMap((p, i) => (p ? [i] : []));
      // One request for the batch: the legacy server applies them one after another, a steady trickle.
      const landed =
        sent.length === 0 ? [] : await this.legacy.writeMany(sent.map((i) => plans[i]!)).catch(() => sent.map(() => new Error('not sent')));
      sent.forEach((i, k) => (outcomes[i] = landed[k] === true ? 'applied' : landed[k] === false ? 'repair' : 'failed'));
      await this.outbox.remove(
        batch.flatMap((b, i) => (outcomes[i] === 'applied' ? (b.entry.outboxIds ?? []) : [])),
        w.q,
      );
      return outcomes;
    });
  }

  /**
   * Rounds until the copy equals the source; fenced unless `settledMode` says the caller holds the fence exclusively
   * (then the new store's side runs in `settledTx`, the caller's transaction, when it gives one).
   */
  private async rounds(
    id: string,
    direction: (mode: MigrationMode) => Direction | null,
    settledMode?: MigrationMode,
    settledTx?: StoreTransaction,
  ): Promise<RepairOutcome> {
    let wrote = false;
    let graceFor: number | null = null;
    for (let round = 0, graces = 0; round < MAX_ROUNDS; round++) {
      const replaceAhead: boolean | number | null = settledMode !== undefined || graceFor;
      const step = (mode: MigrationMode, tx?: StoreTransaction): Promise<Round> => this.round(id, direction(mode), tx, replaceAhead);
      const r: Round = settledMode ? await step(settledMode, settledTx) : await this.fence.write((w) => step(w.mode, w.q));
      if ('done' in r) return r.done === 'in_sync' && wrote ? 'repaired' : r.done;
      if ('wrote' in r) {
        wrote = true;
        graceFor = null;
      } else if (graces++ < MAX_ROUNDS) {
        // The copy is ahead of the source. The fence makes that rare (a source commits before its copy is
        // written), but a copy is only replaced if it is still ahead at that version after a grace period.
        graceFor = r.aheadAt;
        await sleep(AHEAD_GRACE_MS);
        round--;
      }
    }
    throw new Error(`conversation ${id} kept changing during ${MAX_ROUNDS} repair rounds; will retry`);
  }

  /** `replaceAhead`: true, or the version of a copy seen ahead one grace period ago, which may now be replaced. */
  private async round(
    id: string,
    direction: Direction | null,
    tx: StoreTransaction | undefined,
    replaceAhead: boolean | number | null,
  ): Promise<Round> {
    if (!direction) return { done: 'skipped' };
    const source = this.ops(direction.from, tx);
    const target = this.ops(otherStore(direction.from), tx);
    const [truth, copy] = await Promise.all([source.get(id), target.get(id)]);
    if (same(truth, copy)) return { done: 'in_sync' };
    const ahead = truth === null || (copy !== null && copy.version > truth.version);
    if (ahead) {
      if (direction.forwardOnly) return { done: 'skipped' };
      if (replaceAhead !== true && replaceAhead !== copy!.version) return { aheadAt: copy!.version };
      if (truth === null) await target.removeExact(id, copy!.version);
      else await target.compareAndSet(truth, copy!.version);
    } else if (copy === null) await target.insertNew(truth);
    else await target.compareAndSet(truth, copy.version);
    return { wrote: true };
  }

  /** A store's operations, the new store's through the fence's transaction when there is one. */
  private ops(name: StoreName, tx: StoreTransaction | undefined) {
    if (name === 'legacy') return this.legacy;
    const s = this.newStore;
    return {
      get: (id: string) => s.get(id, tx),
      insertNew: (c: Conversation) => s.insertNew(c, tx),
      compareAndSet: (c: Conversation, v: number) => s.compareAndSet(c, v, tx),
      removeExact: (id: string, v: number) => s.removeExact(id, v, tx),
    };
  }
}
