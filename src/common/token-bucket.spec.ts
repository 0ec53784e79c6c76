import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('grants a second worth at once, then holds the average rate', () => {
    const b = new TokenBucket();
    expect(b.take(100, 100, 0)).toBe(0);
    // Bucket empty: the next take is granted (not in debt) and overdraws it.
    expect(b.take(100, 100, 0)).toBe(0);
    // Now 100 in debt: wait one second.
    expect(b.take(100, 100, 0)).toBe(1000);
    expect(b.take(100, 100, 500)).toBe(500);
    expect(b.take(100, 100, 1000)).toBe(0);
  });

  it('lets a batch larger than the bucket through and makes the next one wait it out', () => {
    const b = new TokenBucket();
    expect(b.take(1000, 100, 0)).toBe(0);
    expect(b.take(1, 100, 0)).toBe(9000);
    expect(b.take(1, 100, 9000)).toBe(0);
  });

  it('copies at most rate x time (+ one bucket) over a long run', () => {
    const b = new TokenBucket();
    let now = 0;
    let granted = 0;
    while (now < 10_000) {
      const wait = b.take(37, 250, now);
      if (wait === 0) granted += 37;
      now += wait === 0 ? 1 : wait;
    }
    expect(granted).toBeLessThanOrEqual(250 * 10 + 250 + 37);
    expect(granted).toBeGreaterThanOrEqual(250 * 10 - 37);
  });

  it('has no ceiling at rate 0', () => {
    const b = new TokenBucket();
    for (let i = 0; i < 10; i++) expect(b.take(1_000_000, 0, 0)).toBe(0);
  });
});
