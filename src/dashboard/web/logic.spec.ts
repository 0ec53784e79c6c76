import { chartGeometry, niceMax } from './chart';
import { backfillText, catchupText, gateSummary, moveChanges, moveTitle, verifyText } from './describe';
import { duration, gateThreshold, gateValue, pause, ratio, readableMs } from './format';
import type { Mode, MoveResult, SyncStatus } from './types';

const mode = (phase: Mode['phase'], sourceOfTruth: 'legacy' | 'new', dualWrite: boolean, shadow: boolean): Mode => ({
  phase,
  sourceOfTruth,
  dualWrite,
  readFrom: sourceOfTruth,
  shadow,
});

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
    expect(moveChanges(r)).toEqual([
      'rollout-25 → rollout-50: new weight 25% → 50% (legacy 75% → 50%)',
      'source of truth stays the legacy store (MongoDB)',
    ]);
  });

  it('names the flip of the source of truth and what a rollback from deprecation proves first', () => {
    const into = move({
      from: 'rollout-100',
      to: 'deprecation',
      weights: { before: 100, after: 100 },
      mode: { before: mode('rollout', 'legacy', true, true), after: mode('deprecation', 'new', true, true) },
    });
    expect(moveChanges(into)).toEqual([
      'rollout-100 → deprecation: weights stay new 100% / legacy 0%',
      'source of truth: legacy store (MongoDB) → new store (PostgreSQL)',
      'reads served from: legacy store (MongoDB) → new store (PostgreSQL)',
    ]);
    const back = move({
      action: 'rollback',
      from: 'deprecation',
      to: 'rollout-100',
      weights: { before: 100, after: 100 },
      mode: { before: into.mode.after, after: into.mode.before },
    });
    expect(moveTitle(back)).toBe('Roll back: deprecation → rollout-100');
    expect(moveChanges(back).at(-1)).toMatch(/copied to legacy and verified/);
  });

  it('says when dual writes and shadow comparison start', () => {
    const start = move({
      action: 'start',
      from: 'not_started',
      to: 'shadow',
      weights: { before: 0, after: 0 },
      mode: { before: mode('not_started', 'legacy', false, false), after: mode('shadow', 'legacy', true, true) },
    });
    expect(moveChanges(start)).toEqual(expect.arrayContaining(['dual writes start (both stores written)', 'shadow comparison starts']));
  });

  it('counts failing gates', () => {
    expect(
      gateSummary([
        { name: 'a', pass: false, value: 1, threshold: '= 0' },
        { name: 'b', pass: true, value: 0, threshold: '= 0' },
      ]),
    ).toBe('1 of 2 gates fail');
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
  });

  it('never shows a gate figure as a count of milliseconds', () => {
    expect(duration(3_600_000)).toBe('1 h');
    expect(duration(30_000)).toBe('30 s');
    expect(duration(3_900_000)).toBe('1 h 5 min');
    expect(duration(2 * 86_400_000)).toBe('2 d');
    expect(pause(340)).toBe('340 ms');
    expect(pause(1520)).toBe('1.5 s');
    expect(readableMs('3 differences, 65000 ms old')).toBe('3 differences, 1 min 5 s old');
    expect(gateValue('verification', '0 differences, 12000 ms old')).toBe('0 differences, 12 s old');
    expect(gateThreshold('verification', 'a clean run younger than 3600000 ms')).toBe('a clean run younger than 1 h');
    expect(gateThreshold('verification', '0 differences, <= 3600000 ms old')).toBe('0 differences, <= 1 h old');
    expect(gateThreshold('catchup_lag_ms', '<= 60000')).toBe('<= 1 min');
    expect(gateThreshold('legacy_drained_ms', '>= 60000 (the record TTL) at weight 0')).toBe('>= 1 min (the record TTL) at weight 0');
    expect(gateThreshold('p99_latency_ms', '<= 500')).toBe('<= 500 ms');
    expect(gateThreshold('pending_repairs', '= 0 (queued, running or in an outbox)')).toBe('= 0 (queued, running or in an outbox)');
  });
});

const sync = (over: Partial<SyncStatus> = {}): SyncStatus => ({
  backfill: null,
  paused: false,
  pause: null,
  throttle: { maxDocsPerSecond: 0, source: 'config' },
  catchup: {
    watermark: { updated: '2026-01-01T10:00:00.000Z', id: null },
    lagSeconds: 4,
    newIdsAfter: '5f00000000000000000007cf',
    intervalMs: 5000,
    overlapMs: 5000,
    lastPass: null,
  },
  deadLetters: { open: 0, resolved: 0 },
  ...over,
});

const run = (status: string): NonNullable<SyncStatus['backfill']> => ({
  runId: 3,
  status,
  startedAt: '2026-01-01T09:00:00.000Z',
  finishedAt: status === 'running' ? null : '2026-01-01T09:30:00.000Z',
  batchSize: 1000,
  splitComplete: true,
  ranges: { total: 4, done: 2, running: 1, pending: 1 },
  counts: { expected: 2000, read: 1000, written: 990, skipped: 10, dead: 0 },
  percent: 50,
  rate: { docsPerSecond: 100, windowSeconds: 30 },
  etaSeconds: 10,
  jobs: null,
});

describe('confirmations of the sync and verification', () => {
  it('starts a backfill, or says it resumes the running one from its checkpoints', () => {
    expect(backfillText(sync()).title).toBe('Start a backfill');
    expect(backfillText(sync()).lines).toContain('catch-up then copies what legacy changes, every 5 s');
    const again = backfillText(sync({ backfill: run('completed') }));
    expect(again.lines).toContain(
      'the last run (#3) completed at 2026-01-01 09:30:00 UTC: the new run reads the whole collection again, and copies already up to date are skipped',
    );
    const resume = backfillText(sync({ backfill: run('running'), paused: true, pause: { reason: 'load' } }));
    expect(resume).toMatchObject({ title: 'Resume backfill run #3', confirmLabel: 'Resume backfill' });
    expect(resume.lines[0]).toBe(
      'run #3 is at 50 % (1,000 of 2,000 read): its ranges go on from their checkpoints, and a range whose job was lost is queued again',
    );
    expect(resume.lines.at(-1)).toBe('the sync is paused (load): no range is copied until it is resumed');
  });

  it('names the watermark a catch-up pass starts from, and the lag', () => {
    expect(catchupText(sync()).lines).toEqual([
      'legacy changes since 2026-01-01 10:00:00 UTC (less the 5 s overlap a pass reads again) are copied into the new store, version-guarded',
      'conversations inserted since (_id above 5f00000000000000000007cf) are copied too',
      'catch-up lag now: 4 s',
    ]);
  });

  it('says whether a verification writes, from which store, and refuses a second run while one is not done', () => {
    expect(verifyText('legacy', false, null).lines[1]).toBe('nothing is written: the run only reports');
    const repair = verifyText('new', true, { id: 7, status: 'running' });
    expect(repair.lines[1]).toBe('each difference is copied from the source of truth (the new store (PostgreSQL)) and verified again');
    expect(repair).toMatchObject({ title: 'Verify and repair', blockedBy: 'Run #7 is still running: one verification runs at a time.' });
  });
});

describe('chart geometry', () => {
  it('draws gaps for empty buckets and scales to a nice maximum above the threshold', () => {
    const g = chartGeometry(
      [
        { t: 0, value: 0 },
        { t: 1, value: 0.002 },
        { t: 2, value: null },
        { t: 3, value: 0.001 },
      ],
      300,
      100,
      0.001,
      0,
    );
    expect(g.yMax).toBe(0.002);
    expect(g.paths).toEqual(['M0 100 L100 0']);
    expect(g.thresholdY).toBe(50);
    expect(g.dots).toHaveLength(3);
    expect(niceMax(0.0031)).toBe(0.005);
    expect(niceMax(0)).toBe(0.0001);
  });
});
