/**
 * The plan of SPEC section 3 as one ordered list of positions (phase, step, weight). Advancing is
 * moving to the next position, rolling back to an earlier one; the transition table says which moves
 * exist and what each needs, so no caller decides that with its own ifs.
 *
 * Invariants: the list is linear; `start` is the only way out of `not_started`; rollback never goes
 * below `shadow` (stopping dual writes is not a rollback) and is refused from `cleanup` onward, where
 * the legacy store no longer receives writes.
 */
import type { Phase } from '../../model/phases';

export interface Position {
  phase: Phase;
  /** Index within the phase (only `rollout` has several steps). */
  step: number;
  /** Percentage of DNS answers that point at the new system. */
  weight: number;
}

export const PLAN: readonly Position[] = [
  { phase: 'not_started', step: 0, weight: 0 },
  { phase: 'shadow', step: 0, weight: 0 },
  { phase: 'canary', step: 0, weight: 5 },
  { phase: 'rollout', step: 0, weight: 10 },
  { phase: 'rollout', step: 1, weight: 25 },
  { phase: 'rollout', step: 2, weight: 50 },
  { phase: 'rollout', step: 3, weight: 75 },
  { phase: 'rollout', step: 4, weight: 100 },
  { phase: 'deprecation', step: 0, weight: 100 },
  { phase: 'cleanup', step: 0, weight: 100 },
  { phase: 'complete', step: 0, weight: 100 },
];

/**
 * What a move must prove: an advance into a position (the gate sets of SPEC section 3), and the rollback that
 * flips the source of truth back to legacy (legacy keeping up with the writes it follows).
 */
export type GateSet = 'into_canary' | 'later_step' | 'into_deprecation' | 'into_cleanup' | 'into_complete' | 'out_of_deprecation';

export type Move =
  | { kind: 'start'; from: Position; to: Position }
  | { kind: 'advance'; from: Position; to: Position; gates: GateSet }
  | { kind: 'rollback'; from: Position; to: Position; flipsSourceOfTruth: boolean; gates: GateSet | null };

export class PlanError extends Error {
  constructor(
    readonly code: 'INVALID_TRANSITION' | 'ROLLBACK_REFUSED' | 'UNKNOWN_STEP',
    message: string,
  ) {
    super(message);
  }
}

export function stepName(p: Position): string {
  return p.phase === 'rollout' ? `rollout-${p.weight}` : p.phase;
}

export function indexOf(p: Pick<Position, 'phase' | 'step'>): number {
  const i = PLAN.findIndex((q) => q.phase === p.phase && q.step === p.step);
  if (i < 0) throw new PlanError('UNKNOWN_STEP', `no step ${p.phase}/${p.step} in the plan`);
  return i;
}

export function positionNamed(name: string): Position {
  const p = PLAN.find((q) => stepName(q) === name);
  if (!p) throw new PlanError('UNKNOWN_STEP', `unknown step "${name}"; steps are ${PLAN.map(stepName).join(', ')}`);
  return p;
}

function gatesInto(to: Position): GateSet {
  if (to.phase === 'canary') return 'into_canary';
  if (to.phase === 'deprecation') return 'into_deprecation';
  if (to.phase === 'cleanup') return 'into_cleanup';
  if (to.phase === 'complete') return 'into_complete';
  return 'later_step';
}

export function startMove(from: Position): Move {
  if (from.phase !== 'not_started') throw new PlanError('INVALID_TRANSITION', `the migration has already started (at ${stepName(from)})`);
  return { kind: 'start', from, to: PLAN[1] };
}

export function advanceMove(from: Position): Move {
  const i = indexOf(from);
  if (from.phase === 'not_started') throw new PlanError('INVALID_TRANSITION', 'the migration has not started: use start');
  if (i === PLAN.length - 1) throw new PlanError('INVALID_TRANSITION', 'the migration is complete');
  const to = PLAN[i + 1];
  return { kind: 'advance', from, to, gates: gatesInto(to) };
}

/** Back one step, or to the named earlier step. */
export function rollbackMove(from: Position, toName?: string): Move {
  if (from.phase === 'cleanup' || from.phase === 'complete') {
    throw new PlanError(
      'ROLLBACK_REFUSED',
      `rollback from ${from.phase} is refused: the legacy store no longer receives writes and its archive is the record`,
    );
  }
  const i = indexOf(from);
  if (i <= 1) throw new PlanError('ROLLBACK_REFUSED', `nothing to roll back to from ${stepName(from)}`);
  const to = toName === undefined ? PLAN[i - 1] : positionNamed(toName);
  const j = indexOf(to);
  if (j >= i) throw new PlanError('INVALID_TRANSITION', `${stepName(to)} is not earlier than ${stepName(from)}`);
  if (j < 1) throw new PlanError('ROLLBACK_REFUSED', 'rollback goes no further than shadow; dual writes stay on');
  const flipsSourceOfTruth = from.phase === 'deprecation';
  return { kind: 'rollback', from, to, flipsSourceOfTruth, gates: flipsSourceOfTruth ? 'out_of_deprecation' : null };
}
