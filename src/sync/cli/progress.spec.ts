import type { SyncStatus } from '../sync-status.service';
import { bar, catchupPassLine, formatDuration, progressLine, statusReport } from './progress';

const status = (over: Partial<NonNullable<SyncStatus['backfill']>> = {}, paused = false): SyncStatus => ({
  backfill: {
    runId: 3,
    status: 'running',
    startedAt: '2024-01-01T00:00:00.000Z',
    finishedAt: null,
    batchSize: 1000,
    splitComplete: true,
    ranges: { total: 10, done: 4, running: 2, pending: 4 },
    counts: { expected: 200_000, read: 90_000, written: 89_000, skipped: 900, dead: 100 },
    percent: 45,
    rate: { docsPerSecond: 5234.4, windowSeconds: 30 },
    etaSeconds: 21,
    jobs: { waiting: 2, active: 2, delayed: 0, failed: 1, completed: 4 },
    ...over,
  },
  paused,
  pause: paused ? { by: 'ops', reason: 'db maintenance' } : null,
  throttle: { maxDocsPerSecond: 0, source: 'config' },
  catchup: { watermark: null, lagSeconds: null, newIdsAfter: null, intervalMs: 5000, overlapMs: 5000, lastPass: null },
  deadLetters: { open: 100, resolved: 2 },
});

describe('sync CLI rendering', () => {
  it('draws a bar with counts, rate and ETA', () => {
    expect(progressLine(status(), 10)).toBe(
      '[#####.....]  45.0% | 90,000/200,000 docs | 5,234 docs/s | ETA 21s | written 89,000 skipped 900 dead 100 | ranges 4/10',
    );
  });

  it('says when the run is done, paused, or still being split', () => {
    expect(progressLine(status({ status: 'completed', percent: 100 }), 4)).toContain('[####] 100.0%');
    expect(progressLine(status({ status: 'completed', percent: 100 }), 4)).toContain('ETA done');
    expect(progressLine(status({}, true))).toMatch(/PAUSED$/);
    expect(progressLine(status({ splitComplete: false }))).toContain('90,000/200,000+ docs');
    expect(progressLine({ ...status(), backfill: null })).toMatch(/no backfill run yet/);
    expect(statusReport(status({}, true))).toContain('PAUSED by ops: db maintenance');
    expect(statusReport(status())).toContain('1 range job(s) failed: npm run sync -- backfill re-queues them');
  });

  it('formats durations and clamps the bar', () => {
    expect(formatDuration(null)).toBe('--');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(61)).toBe('1m01s');
    expect(formatDuration(7322)).toBe('2h02m');
    expect(bar(150, 4)).toBe('[####]');
    expect(bar(-1, 4)).toBe('[....]');
  });

  it('says why a catch-up pass did not run, and counts the documents of one that ran as already current', () => {
    expect(catchupPassLine({ skipped: 'paused' })).toBe('catch-up pass skipped: paused');
    const ran = { at: '2024-01-01T00:00:00.000Z', trigger: 'manual', read: 1200, written: 1100, skipped: 95, dead: 5, batches: 3 };
    expect(catchupPassLine({ ...ran, exhausted: true })).toBe(
      'catch-up pass: 1,200 read, 1,100 written, 95 already current, 5 dead-lettered in 3 batches',
    );
    expect(catchupPassLine({ ...ran, skipped: 0, exhausted: false })).toMatch(
      /0 already current.*\(more to do: the next pass continues\)$/,
    );
  });
});
