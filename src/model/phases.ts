/**
 * The phase table of SPEC section 3 as data: what each phase means for the stores. The dual-write
 * path derives its routing from here and nowhere else.
 */
import type { StoreName } from './store-name';

export const PHASES = ['not_started', 'shadow', 'canary', 'rollout', 'deprecation', 'cleanup', 'complete'] as const;
export type Phase = (typeof PHASES)[number];

export interface MigrationMode {
  phase: Phase;
  sourceOfTruth: StoreName;
  /** Whether the other store is written too (as the secondary). */
  dualWrite: boolean;
  readFrom: StoreName;
  shadow: boolean;
}

const TABLE: Record<Phase, Omit<MigrationMode, 'phase'>> = {
  not_started: { sourceOfTruth: 'legacy', dualWrite: false, readFrom: 'legacy', shadow: false },
  shadow: { sourceOfTruth: 'legacy', dualWrite: true, readFrom: 'legacy', shadow: true },
  canary: { sourceOfTruth: 'legacy', dualWrite: true, readFrom: 'legacy', shadow: true },
  rollout: { sourceOfTruth: 'legacy', dualWrite: true, readFrom: 'legacy', shadow: true },
  deprecation: { sourceOfTruth: 'new', dualWrite: true, readFrom: 'new', shadow: true },
  cleanup: { sourceOfTruth: 'new', dualWrite: false, readFrom: 'new', shadow: false },
  complete: { sourceOfTruth: 'new', dualWrite: false, readFrom: 'new', shadow: false },
};

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}

export function modeForPhase(phase: Phase): MigrationMode {
  return { phase, ...TABLE[phase] };
}

export function otherStore(store: StoreName): StoreName {
  return store === 'legacy' ? 'new' : 'legacy';
}
