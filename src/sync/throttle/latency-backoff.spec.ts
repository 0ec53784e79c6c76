import { BackoffDelay, LatencyTracker } from './latency-backoff';

/** A reproducible uniform [0, 1) sequence (Park-Miller). */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 16807) % 2147483647;
    return x / 2147483647;
  };
}

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

  // A healthy latency on a busy machine: most samples about 60 ms, three in ten about 400 ms, in no order.
  it('does not call a healthy but noisy latency an overload', () => {
    const t = new LatencyTracker(3, 50);
    const random = seeded(7);
    let overloaded = 0;
    for (let i = 0; i < 5000; i++) {
      t.observe('legacy_read', (random() < 0.3 ? 400 : 60) * (0.8 + 0.4 * random()));
      if (t.overloaded().length > 0) overloaded++;
    }
    expect(overloaded / 5000).toBeLessThan(0.03);
  });

  it('follows a lasting drop, so a return to the old latency is an overload', () => {
    const t = new LatencyTracker(3, 50);
    for (let i = 0; i < 200; i++) t.observe('legacy_read', 400);
    for (let i = 0; i < 200; i++) t.observe('legacy_read', 60);
    expect(t.overloaded()).toEqual([]);
    for (let i = 0; i < 5; i++) t.observe('legacy_read', 400);
    expect(t.overloaded()).toEqual(['legacy_read']);
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
