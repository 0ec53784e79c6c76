import { chartGeometry, niceMax } from './chart';
import { gateSummary, moveChanges, moveTitle } from './describe';
import { duration, gateThreshold, gateValue, ratio } from './format';
import type { Mode, MoveResult } from './types';

const mode = (phase: Mode['phase'], sourceOfTruth: 'legacy' | 'new', dualWrite: boolean, shadow: boolean): Mode => ({ phase, sourceOfTruth, dualWrite, readFrom: sourceOfTruth, shadow });

const move = (over: Partial<MoveResult>): MoveResult => ({
  dryRun: true,
  action: 'advance',
  from: 'rollout-25',
  to: 'rollout-50',
  weights: { before: 25, after: 50 },
  mode: { before: mode('rollout', 'legacy', true, true), after: mode('rollout', 'legacy', true, true) },
  gates: [],
  forced: false,
  trafficChange: null,
  ...over,
});

describe('confirmation texts', () => {
  it('names the weight change of a step', () => {
    const r = move({});
    expect(moveTitle(r)).toBe('Advance: rollout-25 → rollout-50');
    expect(moveChanges(r)).toEqual(['rollout-25 → rollout-50: new weight 25% → 50% (legacy 75% → 50%)', 'source of truth stays the legacy store (MongoDB)']);
  });

  it('names the flip of the source of truth and what a rollback from deprecation proves first', () => {
    const into = move({ from: 'rollout-100', to: 'deprecation', weights: { before: 100, after: 100 }, mode: { before: mode('rollout', 'legacy', true, true), after: mode('deprecation', 'new', true, true) } });
    expect(moveChanges(into)).toEqual([
      'rollout-100 → deprecation: weights stay new 100% / legacy 0%',
      'source of truth: legacy store (MongoDB) → new store (PostgreSQL)',
      'reads served from: legacy store (MongoDB) → new store (PostgreSQL)',
    ]);
    const back = move({ action: 'rollback', from: 'deprecation', to: 'rollout-100', weights: { before: 100, after: 100 }, mode: { before: into.mode.after, after: into.mode.before } });
    expect(moveTitle(back)).toBe('Roll back: deprecation → rollout-100');
    expect(moveChanges(back).at(-1)).toMatch(/copied to legacy and verified/);
  });

  it('says when dual writes and shadow comparison start', () => {
    const start = move({ action: 'start', from: 'not_started', to: 'shadow', weights: { before: 0, after: 0 }, mode: { before: mode('not_started', 'legacy', false, false), after: mode('shadow', 'legacy', true, true) } });
    expect(moveChanges(start)).toEqual(expect.arrayContaining(['dual writes start (both stores written)', 'shadow comparison starts']));
  });

  it('counts failing gates', () => {
    expect(gateSummary([{ name: 'a', pass: false, value: 1, threshold: '= 0' }, { name: 'b', pass: true, value: 0, threshold: '= 0' }])).toBe('1 of 2 gates fail');
    expect(gateSummary([{ name: 'b', pass: true, value: 0, threshold: '= 0' }])).toBe('all 1 gates pass');
  });
});

describe('formatting', () => {
  it('spells durations, ratios and gate values in the units of their thresholds', () => {
    expect(duration(1500)).toBe('2 s');
    expect(duration(3_600_000 * 50)).toBe('2 d 2 h');
    expect(ratio(0.001)).toBe('0.100 %');
    expect(gateValue('shadow_mismatch_rate', 0.0005)).toBe('0.050 %');
    expect(gateValue('dwell', 90_000)).toBe('1 min 30 s');
    expect(gateValue('backfill_complete', false)).toBe('no');
    expect(gateValue('verification', null)).toBe('no data');
    expect(gateThreshold('shadow_mismatch_rate', '<= 0.001')).toBe('<= 0.100 %');
    expect(gateThreshold('dwell', '>= 2000 ms at this step')).toBe('>= 2 s at this step');
    expect(gateThreshold('catchup_lag_ms', '= 0')).toBe('= 0');
    expect(gateThreshold('verification', 'a clean run younger than 3600000 ms')).toBe('a clean run younger than 3600000 ms');
  });
});

describe('chart geometry', () => {
  it('draws gaps for empty buckets and scales to a nice maximum above the threshold', () => {
    const g = chartGeometry([{ t: 0, value: 0 }, { t: 1, value: 0.002 }, { t: 2, value: null }, { t: 3, value: 0.001 }], 300, 100, 0.001, 0);
    expect(g.yMax).toBe(0.002);
    expect(g.paths).toEqual(['M0 100 L100 0']);
    expect(g.thresholdY).toBe(50);
    expect(g.dots).toHaveLength(3);
    expect(niceMax(0.0031)).toBe(0.005);
    expect(niceMax(0)).toBe(0.0001);
  });
});
