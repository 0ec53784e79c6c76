/**
 * Settings of the phase machine: the gate profile (seed defaults or the short profile for demos and
 * tests) with per-threshold overrides, the analysis window, automatic progression, and how long a
 * move waits for its traffic change.
 */
import type { EnvReader } from '../config/env-reader';
import { GateProfile, SEED_PROFILE, SHORT_PROFILE } from './domain/gates';
import { Phase, PHASES } from '../model/phases';

export const MIGRATION_CONFIG = Symbol('MIGRATION_CONFIG');

export interface MigrationConfig {
  initialPhase?: Phase;
  gates: GateProfile;
  analysisWindowMs: number;
  auto: { enabled: boolean; intervalMs: number; threshold: number };
  /** How long a move request waits for its traffic change before answering 202 (the change goes on). */
  trafficWaitMs: number;
  /** How long a phase change waits for the writes in flight to finish before it gives up (the phase stays). */
  cutoverLockTimeoutMs: number;
}

const NUMERIC_GATES: Array<[keyof GateProfile, string]> = [
  ['shadowDwellMs', 'GATE_SHADOW_DWELL_MS'],
  ['stepDwellMs', 'GATE_STEP_DWELL_MS'],
  ['deprecationDwellMs', 'GATE_DEPRECATION_DWELL_MS'],
  ['maxCatchupLagMs', 'GATE_MAX_CATCHUP_LAG_MS'],
  ['maxVerificationAgeMs', 'GATE_MAX_VERIFICATION_AGE_MS'],
  ['minShadowComparisons', 'GATE_MIN_SHADOW_COMPARISONS'],
  ['maxMismatchRate', 'GATE_MAX_MISMATCH_RATE'],
  ['maxErrorRate', 'GATE_MAX_ERROR_RATE'],
  ['minSuccessRate', 'GATE_MIN_SUCCESS_RATE'],
  ['maxP99Ms', 'GATE_MAX_P99_MS'],
  ['minRequests', 'GATE_MIN_REQUESTS'],
  ['maxFollowUpLagMs', 'GATE_MAX_FOLLOW_UP_LAG_MS'],
];

export function readMigrationConfig(r: EnvReader): MigrationConfig {
  const base = r.oneOf('GATE_PROFILE', ['seed', 'short'] as const, 'seed') === 'short' ? SHORT_PROFILE : SEED_PROFILE;
  const gates: GateProfile = { ...base };
  for (const [field, variable] of NUMERIC_GATES) {
    (gates[field] as number) = r.number(variable, base[field] as number, 0);
  }
  return {
    initialPhase: r.has('MIGRATION_INITIAL_PHASE') ? r.oneOf('MIGRATION_INITIAL_PHASE', PHASES, 'not_started') : undefined,
    gates,
    analysisWindowMs: r.int('GATE_ANALYSIS_WINDOW_MS', 5 * 60_000, 1000, 24 * 3600_000),
    auto: {
      enabled: r.bool('AUTO_PROGRESSION', false),
      intervalMs: r.int('AUTO_PROGRESSION_INTERVAL_MS', 60_000, 100, 24 * 3600_000),
      threshold: r.int('AUTO_PROGRESSION_THRESHOLD', 5, 1, 1000),
    },
    trafficWaitMs: r.int('TRAFFIC_WAIT_MS', 120_000, 0, 3600_000),
    cutoverLockTimeoutMs: r.int('CUTOVER_LOCK_TIMEOUT_MS', 10_000, 100, 3600_000),
  };
}
