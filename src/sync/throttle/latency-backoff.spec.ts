import { BackoffDelay, LatencyTracker } from './latency-backoff';

describe('LatencyTracker', () => {
  it('calls a sustained rise over the baseline an overload, and recovers', () => {
    const t = new LatencyTracker(3, 20);
    for (let i = 0; i < 20; i++) t.observe('new_write', 10);
    expect(t.overloaded()).toEqual([]);
    for (let i = 0; i < 5; i++) t.observe('new_write', 200);
    expect(t.overloaded()).toEqual(['new_write']);
    for (let i = 0; i < 20; i++) t.observe('new_write', 10);
    expect(t.overloaded()).toEqual([]);
  });

  it('ignores a rise smaller than the minimum delta (noise on tiny latencies)', () => {
    const t = new LatencyTracker(3, 50);
    for (let i = 0; i < 20; i++) t.observe('legacy_read', 1);
    for (let i = 0; i < 10; i++) t.observe('legacy_read', 20);
    expect(t.overloaded()).toEqual([]);
  });

  it('needs a few samples before it can call an overload', () => {
    const t = new LatencyTracker(2, 0);
    t.observe('api', 1);
    t.observe('api', 1000);
    expect(t.overloaded()).toEqual([]);
  });

  it('keeps signals apart', () => {
    const t = new LatencyTracker(3, 10);
    for (let i = 0; i < 10; i++) {
      t.observe('api', 5);
      t.observe('legacy_read', 100);
    }
    for (let i = 0; i < 10; i++) t.observe('api', 100);
    expect(t.overloaded()).toEqual(['api']);
  });
});

describe('BackoffDelay', () => {
  it('doubles while overloaded up to the ceiling and halves back to zero', () => {
    const d = new BackoffDelay(400, 50);
    expect([true, true, true, true, true].map((o) => d.next(o))).toEqual([50, 100, 200, 400, 400]);
    expect([false, false, false, false].map((o) => d.next(o))).toEqual([200, 100, 50, 0]);
  });
});
