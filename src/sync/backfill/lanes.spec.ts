import { allLanes, laneBounds, laneOf } from './lanes';

describe('lanes', () => {
  it('cuts the ranges into contiguous blocks that cover each range exactly once', () => {
    for (const total of [1, 2, 3, 7, 10, 50, 101]) {
      for (const lanes of [1, 2, 3, 4, 8, 200]) {
        const ls = allLanes(total, lanes);
        expect(ls.length).toBe(Math.min(total, lanes));
        expect(ls[0].first).toBe(1);
        expect(ls[ls.length - 1].last).toBe(total);
        for (let i = 1; i < ls.length; i++) expect(ls[i].first).toBe(ls[i - 1].last + 1);
        const sizes = ls.map((l) => l.last - l.first + 1);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('finds the lane of a range', () => {
    expect(laneOf(10, 2, 1)).toEqual({ lane: 0, first: 1, last: 5 });
    expect(laneOf(10, 2, 6)).toEqual({ lane: 1, first: 6, last: 10 });
    expect(laneOf(10, 2, 11)).toBeNull();
    expect(laneOf(10, 2, 0)).toBeNull();
    expect(laneBounds(1, 4, 0)).toEqual({ lane: 0, first: 1, last: 1 });
  });

  it('has no lanes without ranges, and treats a bad lane count as one lane', () => {
    expect(allLanes(0, 3)).toEqual([]);
    expect(allLanes(5, 0)).toEqual([{ lane: 0, first: 1, last: 5 }]);
  });
});
