import { RequestWindow } from './request-window';

describe('RequestWindow', () => {
  it('reports rates and p99 over the window only', () => {
    let now = 1_000_000;
    const w = new RequestWindow(60, () => now);
    for (let i = 0; i < 1000; i++) w.record(i < 10 ? 500 : i < 15 ? 429 : 200, i < 990 ? 10 : 400);
    const s = w.stats(30_000);
    expect(s.requests).toBe(1000);
    expect(s.errorRate).toBeCloseTo(0.01);
    expect(s.successRate).toBeCloseTo(0.985);
    expect(s.p99Ms!).toBeGreaterThanOrEqual(10);
    expect(s.p99Ms!).toBeLessThanOrEqual(12.5);
    now += 31_000;
    expect(w.stats(30_000)).toEqual({ requests: 0, errorRate: null, successRate: null, p99Ms: null });
    expect(w.stats(60_000).requests).toBe(1000);
  });

  it('finds a slow tail', () => {
    const w = new RequestWindow(60, () => 5_000);
    for (let i = 0; i < 100; i++) w.record(200, i < 95 ? 5 : 800);
    expect(w.stats(10_000).p99Ms!).toBeGreaterThan(700);
  });
});
