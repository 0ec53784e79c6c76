/**
 * Gates before each advance (SPEC section 3), evaluated from a snapshot of live figures. Pure: the
 * service gathers the figures, this decides. Every gate reports its value and threshold, passing or
 * not, so a refusal (409 GATE_FAILED) and a dry run can show exactly why.
 */
import type { GateSet } from './phase-plan';

export interface GateProfile {
  name: string;
  /** Dwell before leaving shadow (seed: weeks 1-2). */
  shadowDwellMs: number;
  /** Dwell at each later step (seed: 2-3 days a stage). */
  stepDwellMs: number;
  /** Time in deprecation before cleanup (seed: 1 week). */
  deprecationDwellMs: number;
  maxCatchupLagMs: number;
  maxVerificationAgeMs: number;
  minShadowComparisons: number;
  maxMismatchRate: number;
  maxErrorRate: number;
  minSuccessRate: number;
  maxP99Ms: number;
  /** Requests needed in the analysis window before error rate, success rate and p99 mean anything. */
  minRequests: number;
  /**
   * Rollback out of deprecation: the oldest follow-up not yet applied to legacy may be at most this old. The flip
   * back settles every follow-up while it holds the write fence, so a large backlog would hold writes that long;
   * a lag this high means legacy is not keeping up (or is down) and rolling back onto it is not the fix.
   */
  maxFollowUpLagMs: number;
}

const DAY = 24 * 60 * 60 * 1000;

export const SEED_PROFILE: GateProfile = {
  name: 'seed',
  shadowDwellMs: 7 * DAY,
  stepDwellMs: 2 * DAY,
  deprecationDwellMs: 7 * DAY,
  maxCatchupLagMs: 60_000,
  maxVerificationAgeMs: 60 * 60 * 1000,
  minShadowComparisons: 1000,
  maxMismatchRate: 0.001,
  maxErrorRate: 0.01,
  minSuccessRate: 0.99,
  maxP99Ms: 500,
  minRequests: 100,
  maxFollowUpLagMs: 60_000,
};

/** For demos and tests: the same gates with dwell times of seconds and small sample sizes. */
export const SHORT_PROFILE: GateProfile = {
  ...SEED_PROFILE,
  name: 'short',
  shadowDwellMs: 2_000,
  stepDwellMs: 1_000,
  deprecationDwellMs: 2_000,
  minShadowComparisons: 20,
  minRequests: 10,
};

export interface GateFigures {
  now: Date;
  /** When the current step was entered. */
  enteredAt: Date;
  backfillComplete: boolean;
  /**
   * When a backfill last completed (any run, null when none ever did): until one has, the new store lacks the
   * legacy history the catch-up never saw, and making it the source of truth would hide those conversations.
   */
  backfillCompletedAt: Date | null;
  catchupLagMs: number | null;
  lastVerification: { finishedAt: Date; missing: number; extra: number; different: number } | null;
  shadow: { compared: number; mismatchRate: number | null };
  http: { requests: number; errorRate: number | null; successRate: number | null; p99Ms: number | null };
  /** Since when the legacy record has had weight 0 (null while it still gets traffic). */
  legacyDrainedSince: Date | null;
  recordTtlMs: number;
  /** Legacy documents changed by anyone but this service since the flip. */
  strayWrites: number;
  /**
   * Repairs not done yet (queued, running, or in an outbox waiting for Redis); null when they cannot be
   * counted. A repair still pending at the flip was recorded for a write the old source of truth
   * acknowledged and the new one lacks.
   */
  pendingRepairs: number | null;
  /**
   * Age of the oldest follow-up not applied yet (repair_outbox), in ms: 0 when none; null when it cannot be read.
   * In deprecation, how far legacy lags the source of truth.
   */
  followUpLagMs: number | null;
  /** When the last catch-up pass ran. */
  lastCatchupAt: Date | null;
  /** When the new store became the source of truth (null before deprecation). */
  flippedAt: Date | null;
  archiveVerified: boolean;
}

export interface GateResult {
  name: string;
  pass: boolean;
  value: number | string | boolean | null;
  threshold: string;
  /** false: an interlock that `force` cannot pass (absent: a failing gate can be forced, with a reason). */
  forceable?: false;
}

const gate = (name: string, pass: boolean, value: GateResult['value'], threshold: string): GateResult => ({ name, pass, value, threshold });

/**
 * The flip's interlock (as Vitess refuses to switch traffic while its copy is in progress): the new store becomes
 * the source of truth only once a backfill has copied legacy's history into it. A forced flip before that answered
 * 404 for every conversation the backfill had not copied; force cannot pass it.
 */
const backfillCopied = (f: GateFigures): GateResult => ({
  ...gate(
    'backfill_copied',
    f.backfillCompletedAt !== null,
    f.backfillCompletedAt?.toISOString() ?? null,
    'a completed backfill (force cannot pass this gate)',
  ),
  forceable: false,
});

function dwell(f: GateFigures, ms: number): GateResult {
  const waited = f.now.getTime() - f.enteredAt.getTime();
  return gate('dwell', waited >= ms, waited, `>= ${ms} ms at this step`);
}

function verificationClean(f: GateFigures, p: GateProfile, name = 'verification'): GateResult {
  const v = f.lastVerification;
  if (!v) return gate(name, false, null, `a clean run younger than ${p.maxVerificationAgeMs} ms`);
  const age = f.now.getTime() - v.finishedAt.getTime();
  const differences = v.missing + v.extra + v.different;
  return gate(
    name,
    differences === 0 && age <= p.maxVerificationAgeMs,
    `${differences} differences, ${age} ms old`,
    `0 differences, <= ${p.maxVerificationAgeMs} ms old`,
  );
}

function mismatchRate(f: GateFigures, p: GateProfile): GateResult {
  const r = f.shadow.mismatchRate;
  return gate('shadow_mismatch_rate', r !== null && r <= p.maxMismatchRate, r, `<= ${p.maxMismatchRate}`);
}

function serviceHealth(f: GateFigures, p: GateProfile): GateResult[] {
  const enough = f.http.requests >= p.minRequests;
  const { errorRate, successRate, p99Ms } = f.http;
  return [
    gate('analysis_requests', enough, f.http.requests, `>= ${p.minRequests} in the analysis window`),
    gate('error_rate', enough && errorRate !== null && errorRate <= p.maxErrorRate, errorRate, `<= ${p.maxErrorRate}`),
    gate('success_rate', enough && successRate !== null && successRate >= p.minSuccessRate, successRate, `>= ${p.minSuccessRate}`),
    gate('p99_latency_ms', enough && p99Ms !== null && p99Ms <= p.maxP99Ms, p99Ms, `<= ${p.maxP99Ms}`),
  ];
}

export function evaluateGates(set: GateSet, f: GateFigures, p: GateProfile): GateResult[] {
  const lag = gate(
    'catchup_lag_ms',
    f.catchupLagMs !== null && f.catchupLagMs <= p.maxCatchupLagMs,
    f.catchupLagMs,
    `<= ${p.maxCatchupLagMs}`,
  );
  switch (set) {
    case 'into_canary':
      return [
        gate('backfill_complete', f.backfillComplete, f.backfillComplete, 'true'),
        lag,
        verificationClean(f, p),
        gate('shadow_comparisons', f.shadow.compared >= p.minShadowComparisons, f.shadow.compared, `>= ${p.minShadowComparisons}`),
        mismatchRate(f, p),
        dwell(f, p.shadowDwellMs),
      ];
    case 'later_step':
      return [...serviceHealth(f, p), mismatchRate(f, p), dwell(f, p.stepDwellMs)];
    case 'into_deprecation': {
      const drainedFor = f.legacyDrainedSince ? f.now.getTime() - f.legacyDrainedSince.getTime() : null;
      return [
        backfillCopied(f),
        ...serviceHealth(f, p),
        mismatchRate(f, p),
        dwell(f, p.stepDwellMs),
        gate(
          'legacy_drained_ms',
          drainedFor !== null && drainedFor >= f.recordTtlMs,
          drainedFor,
          `>= ${f.recordTtlMs} (the record TTL) at weight 0`,
        ),
        gate('catchup_lag_ms', f.catchupLagMs === 0, f.catchupLagMs, '= 0'),
        gate('pending_repairs', f.pendingRepairs === 0, f.pendingRepairs, '= 0 (queued, running or in an outbox)'),
        verificationClean(f, p),
      ];
    }
    case 'into_cleanup': {
      const afterFlip = (d: Date | null | undefined) => !!d && !!f.flippedAt && d >= f.flippedAt;
      const final = verificationClean(f, p, 'final_verification');
      return [
        dwell(f, p.deprecationDwellMs),
        gate('stray_legacy_writes', f.strayWrites === 0, f.strayWrites, '= 0'),
        gate('final_sync', afterFlip(f.lastCatchupAt), f.lastCatchupAt?.toISOString() ?? null, 'a catch-up pass after the flip'),
        {
          ...final,
          pass: final.pass && afterFlip(f.lastVerification?.finishedAt),
          threshold: `${final.threshold}, finished after the flip`,
        },
      ];
    }
    case 'into_complete':
      return [gate('archive_verified', f.archiveVerified, f.archiveVerified, 'true')];
    case 'out_of_deprecation':
      return [
        gate(
          'follow_up_lag_ms',
          f.followUpLagMs !== null && f.followUpLagMs <= p.maxFollowUpLagMs,
          f.followUpLagMs,
          `<= ${p.maxFollowUpLagMs} (the oldest write legacy has not followed yet)`,
        ),
      ];
  }
}

export const failing = (results: GateResult[]) => results.filter((r) => !r.pass);

/** The failing gates `force` cannot pass. */
export const failingInterlocks = (results: GateResult[]) => failing(results).filter((r) => r.forceable === false);
