import { evaluateGates, failing, failingInterlocks, GateFigures, SEED_PROFILE, SHORT_PROFILE } from './gates';

const now = new Date('2026-11-26T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

const healthy: GateFigures = {
  now,
  enteredAt: ago(30 * 24 * 3600 * 1000),
  backfillComplete: true,
  backfillCompletedAt: new Date(0),
  catchupLagMs: 0,
  lastVerification: { finishedAt: ago(60_000), missing: 0, extra: 0, different: 0 },
  shadow: { compared: 5000, mismatchRate: 0 },
  http: { requests: 10_000, errorRate: 0.001, successRate: 0.999, p99Ms: 120 },
  legacyDrainedSince: ago(3600_000),
  recordTtlMs: 60_000,
  strayWrites: 0,
  pendingRepairs: 0,
  followUpLagMs: 0,
  lastCatchupAt: ago(30_000),
  flippedAt: ago(10 * 24 * 3600_000),
  archiveVerified: true,
};

describe('gates', () => {
  it('pass on healthy figures for every gate set', () => {
    for (const set of ['into_canary', 'later_step', 'into_deprecation', 'into_cleanup', 'into_complete', 'out_of_deprecation'] as const) {
      expect(failing(evaluateGates(set, healthy, SEED_PROFILE))).toEqual([]);
    }
  });

  it('name each failing gate with its value and threshold', () => {
    const f = {
      ...healthy,
      shadow: { compared: 5000, mismatchRate: 0.02 },
      http: { ...healthy.http, errorRate: 0.05 },
      lastVerification: { ...healthy.lastVerification!, finishedAt: ago(2 * 3600_000) },
    };
    expect(failing(evaluateGates('later_step', f, SEED_PROFILE)).map((g) => [g.name, g.value, g.threshold])).toEqual([
      ['error_rate', 0.05, '<= 0.01'],
      ['shadow_mismatch_rate', 0.02, '<= 0.001'],
    ]);
    expect(failing(evaluateGates('into_canary', f, SEED_PROFILE)).map((g) => g.name)).toEqual(['verification', 'shadow_mismatch_rate']);
  });

  it('need enough requests before service health counts', () => {
    const f = { ...healthy, http: { requests: 3, errorRate: 0, successRate: 1, p99Ms: 5 } };
    expect(failing(evaluateGates('later_step', f, SEED_PROFILE)).map((g) => g.name)).toEqual([
      'analysis_requests',
      'error_rate',
      'success_rate',
      'p99_latency_ms',
    ]);
  });

  it('hold each step for its dwell; the short profile in seconds', () => {
    const f = { ...healthy, enteredAt: ago(1500) };
    expect(failing(evaluateGates('later_step', f, SEED_PROFILE)).map((g) => g.name)).toEqual(['dwell']);
    expect(failing(evaluateGates('later_step', f, SHORT_PROFILE))).toEqual([]);
  });

  it('into deprecation need legacy drained for the TTL, zero lag and a clean verification', () => {
    const f = { ...healthy, legacyDrainedSince: ago(10_000), catchupLagMs: 250 };
    expect(failing(evaluateGates('into_deprecation', f, SEED_PROFILE)).map((g) => g.name)).toEqual(['legacy_drained_ms', 'catchup_lag_ms']);
  });

  it('into deprecation need a completed backfill, an interlock that force cannot pass; no other gate is one', () => {
    const none = evaluateGates('into_deprecation', { ...healthy, backfillCompletedAt: null }, SEED_PROFILE);
    expect(failing(none).map((g) => [g.name, g.value])).toEqual([['backfill_copied', null]]);
    expect(failingInterlocks(none).map((g) => g.name)).toEqual(['backfill_copied']);
    // The canary's own backfill gate (the latest run) stays forceable; so does every other gate.
    const canary = evaluateGates('into_canary', { ...healthy, backfillComplete: false, backfillCompletedAt: null }, SEED_PROFILE);
    expect(failing(canary).map((g) => g.name)).toEqual(['backfill_complete']);
    expect(failingInterlocks(canary)).toEqual([]);
    const at = new Date('2026-12-01T00:00:00Z');
    const done = evaluateGates('into_deprecation', { ...healthy, backfillCompletedAt: at }, SEED_PROFILE);
    expect(done.find((g) => g.name === 'backfill_copied')).toMatchObject({ pass: true, value: at.toISOString(), forceable: false });
  });

  it('into deprecation need every repair done: one still pending may hold a write only legacy acknowledged', () => {
    const pending = failing(evaluateGates('into_deprecation', { ...healthy, pendingRepairs: 3 }, SEED_PROFILE));
    expect(pending.map((g) => [g.name, g.value])).toEqual([['pending_repairs', 3]]);
    // Not known (Redis or a store cannot be asked) is not zero.
    expect(failing(evaluateGates('into_deprecation', { ...healthy, pendingRepairs: null }, SEED_PROFILE)).map((g) => g.name)).toEqual([
      'pending_repairs',
    ]);
    expect(failing(evaluateGates('later_step', { ...healthy, pendingRepairs: 3 }, SEED_PROFILE))).toEqual([]);
  });

  it('into cleanup need no stray writes, and a catch-up pass and a clean verification after the flip', () => {
    const f = {
      ...healthy,
      strayWrites: 2,
      flippedAt: ago(30_000),
      lastVerification: { ...healthy.lastVerification!, finishedAt: ago(60_000) },
    };
    expect(failing(evaluateGates('into_cleanup', f, SEED_PROFILE)).map((g) => g.name)).toEqual([
      'stray_legacy_writes',
      'final_verification',
    ]);
    expect(
      failing(evaluateGates('into_cleanup', { ...f, strayWrites: 0, lastCatchupAt: ago(40_000) }, SEED_PROFILE)).map((g) => g.name),
    ).toEqual(['final_sync', 'final_verification']);
  });

  it('out of deprecation need legacy to keep up with the writes it follows (the flip back settles them under the fence)', () => {
    expect(failing(evaluateGates('out_of_deprecation', { ...healthy, followUpLagMs: 59_000 }, SEED_PROFILE))).toEqual([]);
    expect(
      failing(evaluateGates('out_of_deprecation', { ...healthy, followUpLagMs: 61_000 }, SEED_PROFILE)).map((g) => [g.name, g.value]),
    ).toEqual([['follow_up_lag_ms', 61_000]]);
    // Not known (PostgreSQL cannot be asked) is not "no lag"; and no other gate set looks at it.
    expect(failing(evaluateGates('out_of_deprecation', { ...healthy, followUpLagMs: null }, SEED_PROFILE)).map((g) => g.name)).toEqual([
      'follow_up_lag_ms',
    ]);
    expect(failing(evaluateGates('later_step', { ...healthy, followUpLagMs: 3_600_000 }, SEED_PROFILE))).toEqual([]);
  });
});
