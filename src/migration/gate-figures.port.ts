import type { GateFigures } from './domain/gates';
import type { PhaseState } from './phase-state.repository';
import type { StatusSummaries } from './migration.schemas';

/**
 * Where the gates' live figures come from (sync, verification, shadow comparison, this service's
 * requests, traffic). A port so the phase machine's tests can plant figures and the production
 * adapter can read the real capabilities.
 */
export interface GateFiguresSource {
  collect(state: PhaseState): Promise<Omit<GateFigures, 'now' | 'enteredAt' | 'legacyDrainedSince' | 'flippedAt'>>;
  /** What `status` shows of the other capabilities (sync, verification, shadow, stray writes). */
  summaries(state: PhaseState): Promise<StatusSummaries>;
}

export const GATE_FIGURES = Symbol('GATE_FIGURES');
