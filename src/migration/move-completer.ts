/**
 * The last half of a move, shared by the API (moves without a traffic change, and the request that
 * waited for its change) and the `traffic` worker (which finishes a move whose change it carried to
 * done, also after a crash). Committing is a compare-and-set on the revision the move claimed, so
 * whoever comes second finds it done and does nothing.
 */
import { Injectable } from '@nestjs/common';
import type { TrafficChange } from '../traffic/traffic.service';
import type { GateResult } from './domain/gates';
import { indexOf, Position } from './domain/phase-plan';
import { modeForPhase } from './domain/phases';
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
  rollbackProof?: unknown;
}

export const isPendingMove = (v: unknown): v is PendingMove =>
  typeof v === 'object' && v !== null && typeof (v as PendingMove).claimedRevision === 'number' && typeof (v as PendingMove).toPosition === 'object';

@Injectable()
export class MoveCompleter {
  constructor(private readonly state: PhaseStateRepository) {}

  /** Commits the move's new position; false when it was already committed or released. */
  async commit(move: PendingMove, change: TrafficChange | null): Promise<boolean> {
    const s = await this.state.read();
    const now = new Date();
    const deprecation = indexOf({ phase: 'deprecation', step: 0 });
    // The flip time is when the new store became the source of truth; it is kept until a rollback undoes the flip.
    const flippedAt = indexOf(move.toPosition) < deprecation ? null : (s.flippedAt ?? now);
    // Legacy is drained from the moment its weight reached 0, and stays so while it is 0.
    const legacyDrainedSince = move.toPosition.weight < 100 ? null : move.fromPosition.weight === 100 ? (s.legacyDrainedSince ?? now) : now;
    if (!(await this.state.commit(move.claimedRevision, move.toPosition, { flippedAt, legacyDrainedSince }))) return false;
    if (change) {
      await this.state.audit({
        actor: move.by,
        action: 'traffic_change',
        reason: move.reason,
        forced: false,
        before: { weight: move.fromPosition.weight, weights: change.before },
        after: { weight: move.toPosition.weight, weights: change.weights },
        details: { id: change.id, kind: change.kind, provider: change.provider, changeId: change.changeId, state: change.state, attempts: change.attempts, requestedAt: change.requestedAt, completedAt: change.completedAt },
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
      details: { gates: move.gates, trafficChangeId: change?.id ?? null, rollbackProof: move.rollbackProof ?? null },
    });
    return true;
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
