/**
 * The last half of a move, shared by the API (moves without a traffic change, and the request that
 * waited for its change) and the `traffic` worker (which finishes a move whose change it carried to
 * done, also after a crash). Committing is a compare-and-set on the revision the move claimed, so
 * whoever comes second finds it done and does nothing.
 *
 * Every commit takes the write fence exclusively (src/mode/write-fence.ts): it waits for the writes in
 * flight under the old phase and holds new ones until the new phase is committed, so no write ever spans
 * two phases. A move that changes the source of truth or stops dual writes runs its cutover in that same
 * transaction (src/migration/cutover.ts); such moves carry no traffic change, so only the API commits them.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';
import { WRITE_FENCE } from '../mode/mode.tokens';
import type { WriteFence } from '../mode/write-fence';
import type { TrafficChange } from '../traffic/traffic.service';
import { Cutover, CutoverPlan, CutoverReport, cutoverKind } from './cutover';
import type { HeldPassLock } from '../sync/catchup/catchup.service';
import type { GateResult } from './domain/gates';
import { indexOf, Position } from './domain/phase-plan';
import { modeForPhase } from '../model/phases';
import { PhaseStateRepository } from './phase-state.repository';

/** What `pending_move` holds while a move is under way. */
export interface PendingMove {
  action: 'start' | 'advance' | 'rollback';
  from: string;
  to: string;
  fromPosition: Position;
  toPosition: Position;
  claimedRevision: number;
  by: string;
  reason: string | null;
  forced: boolean;
  at: string;
  gates: GateResult[];
  /** What the cutover's first half found, for its fenced half (moves that change the source of truth or stop dual writes). */
  cutover?: CutoverPlan;
}

export const isPendingMove = (v: unknown): v is PendingMove =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as PendingMove).claimedRevision === 'number' &&
  typeof (v as PendingMove).toPosition === 'object';

/** A committed move: how long writes paused for it, and what its cutover did before the fence and under it. */
export interface Committed {
  pause: { waitedMs: number; heldMs: number };
  cutover: { prepared: CutoverPlan['prepared']; fenced: CutoverReport } | null;
}

@Injectable()
export class MoveCompleter {
  private readonly logger = new Logger('MoveCompleter');

  constructor(
    private readonly state: PhaseStateRepository,
    @Inject(WRITE_FENCE) private readonly fence: WriteFence,
    private readonly cutover: Cutover,
    @Inject(MIGRATION_CONFIG) private readonly config: MigrationConfig,
  ) {}

  /**
   * Commits the move's new position; null when it was already committed or released. Throws to refuse it (cutover).
   * `catchup`: the catch-up pass lock the cutover's prepare holds (into the new store).
   */
  async commit(move: PendingMove, change: TrafficChange | null, catchup: HeldPassLock | null = null): Promise<Committed | null> {
    if (cutoverKind(move.fromPosition, move.toPosition) && !move.cutover) {
      throw new Error(`the move to ${move.to} needs a cutover, which its request prepares; it cannot be committed here`);
    }
    const hold = await this.fence.exclusive(async (q, budget) => {
      const s = await this.state.read(q);
      if (s.revision !== move.claimedRevision) return { committed: false, report: null };
      const now = new Date();
      const deprecation = indexOf({ phase: 'deprecation', step: 0 });
      // The flip time is when the new store became the source of truth; it is kept until a rollback undoes the flip.
      const flippedAt = indexOf(move.toPosition) < deprecation ? null : (s.flippedAt ?? now);
      // Legacy is drained from the moment its weight reached 0, and stays so while it is 0.
      const legacyDrainedSince =
        move.toPosition.weight < 100 ? null : move.fromPosition.weight === 100 ? (s.legacyDrainedSince ?? now) : now;
      const report = move.cutover
        ? await this.cutover.fenced(move.cutover, modeForPhase(move.fromPosition.phase), q, catchup, budget)
        : null;
      const committed = await this.state.commit(move.claimedRevision, move.toPosition, { flippedAt, legacyDrainedSince }, q);
      return { committed, report };
    }, this.config.cutoverLockTimeoutMs);
    // Already committed (or released) by someone else: nothing to audit.
    if (!hold.result.committed) return null;
    const report = hold.result.report;
    const committed: Committed = {
      pause: { waitedMs: Math.round(hold.waitedMs), heldMs: Math.round(hold.heldMs) },
      cutover: move.cutover && report ? { prepared: move.cutover.prepared, fenced: report } : null,
    };
    this.logger.log({
      msg: 'move committed',
      to: move.to,
      writesWaitedMs: committed.pause.waitedMs,
      writesHeldMs: committed.pause.heldMs,
      cutover: committed.cutover,
    });
    if (change) {
      await this.state.audit({
        actor: move.by,
        action: 'traffic_change',
        reason: move.reason,
        forced: false,
        before: { weight: move.fromPosition.weight, weights: change.before },
        after: { weight: move.toPosition.weight, weights: change.weights },
        details: {
          id: change.id,
          kind: change.kind,
          provider: change.provider,
          changeId: change.changeId,
          state: change.state,
          attempts: change.attempts,
          requestedAt: change.requestedAt,
          completedAt: change.completedAt,
        },
      });
    }
    const before = modeForPhase(move.fromPosition.phase);
    const after = modeForPhase(move.toPosition.phase);
    await this.state.audit({
      actor: move.by,
      action: move.forced ? `${move.action}_forced` : move.action,
      reason: move.reason,
      forced: move.forced,
      before: { step: move.from, weight: move.fromPosition.weight, sourceOfTruth: before.sourceOfTruth },
      after: { step: move.to, weight: move.toPosition.weight, sourceOfTruth: after.sourceOfTruth },
      details: { gates: move.gates, trafficChangeId: change?.id ?? null, writePause: committed.pause, cutover: committed.cutover },
    });
    return committed;
  }

  /** Releases the claim and records why the move did not happen; false when it was no longer pending. */
  async abandon(move: PendingMove, error: string, details: Record<string, unknown> = {}): Promise<boolean> {
    if (!(await this.state.release(move.claimedRevision))) return false;
    await this.state.audit({
      actor: move.by,
      action: `${move.action}_failed`,
      reason: move.reason,
      forced: move.forced,
      before: move.from,
      after: move.from,
      details: { to: move.to, error, ...details },
    });
    return true;
  }
}
