import { ProgressTracker } from './archive-progress';

describe('archive progress', () => {
  const counts = (documents: number) => ({ documents, contentBytes: documents * 100, archiveBytes: documents * 10 });

  it('reports counts, bytes, rate and ETA from the estimated total', () => {
    let t = 1_000;
    const tracker = new ProgressTracker('archive', 1000, { reportMs: 1000, logMs: 10_000 }, () => t);
    t = 3_000;
    const d = tracker.update(counts(200));
    expect(d.report).toBe(true);
    expect(d.log).toBe(false);
    expect(d.progress).toEqual({
      stage: 'archive',
      documents: 200,
      estimatedTotal: 1000,
      percent: 20,
      contentBytes: 20_000,
      archiveBytes: 2_000,
      elapsedMs: 2_000,
      docsPerSecond: 100,
      bytesPerSecond: 10_000,
      etaSeconds: 8,
      done: false,
    });
  });

  it('reports at its interval, logs at its own, and always reports and logs the end', () => {
    let t = 0;
    const tracker = new ProgressTracker('verify', 10, { reportMs: 100, logMs: 1000 }, () => t);
    t = 50;
    expect(tracker.update(counts(1))).toMatchObject({ report: false, log: false });
    t = 100;
    expect(tracker.update(counts(2))).toMatchObject({ report: true, log: false });
    t = 150;
    expect(tracker.update(counts(3))).toMatchObject({ report: false, log: false });
    t = 1000;
    expect(tracker.update(counts(4))).toMatchObject({ report: true, log: true });
    t = 1001;
    expect(tracker.update(counts(10), true)).toMatchObject({
      report: true,
      log: true,
      progress: { done: true, etaSeconds: 0, percent: 100 },
    });
  });

  it('has no ETA before any progress or past a stale estimate, and no percent for an empty estimate', () => {
    let t = 0;
    const tracker = new ProgressTracker('archive', 5, { reportMs: 1, logMs: 1 }, () => t);
    expect(tracker.snapshot(counts(0))).toMatchObject({ etaSeconds: null, docsPerSecond: 0, percent: 0 });
    t = 1000;
    expect(tracker.snapshot(counts(8))).toMatchObject({ etaSeconds: null, percent: 100 });
    expect(new ProgressTracker('archive', 0, { reportMs: 1, logMs: 1 }, () => t).snapshot(counts(0))).toMatchObject({
      percent: null,
      etaSeconds: null,
    });
  });
});
