import { chunkUpperBound, countUpTo } from './chunk-bounds';

const ids = (...ns: number[]) => ns.map((n) => n.toString(16).padStart(24, '0'));

describe('chunkUpperBound', () => {
  it('ends at the smaller limit-th id of the full sides', () => {
    expect(chunkUpperBound({ ids: ids(1, 2, 3, 4), exhausted: false }, { ids: ids(1, 2, 5, 6), exhausted: false }, 3)).toBe(ids(3)[0]);
    expect(chunkUpperBound({ ids: ids(10, 20, 30), exhausted: false }, { ids: ids(1, 2, 3), exhausted: false }, 3)).toBe(ids(3)[0]);
  });

  it('is not bounded by a side with fewer than limit records left', () => {
    expect(chunkUpperBound({ ids: ids(1), exhausted: true }, { ids: ids(1, 2, 3), exhausted: false }, 3)).toBe(ids(3)[0]);
    expect(chunkUpperBound({ ids: ids(1), exhausted: true }, { ids: [], exhausted: true }, 3)).toBeNull();
  });

  it('refuses a side that was not filled', () => {
    expect(() => chunkUpperBound({ ids: ids(1), exhausted: false }, { ids: [], exhausted: true }, 3)).toThrow(/filled/);
  });
});

describe('countUpTo', () => {
  it('counts ids at or below the bound', () => {
    expect(countUpTo(ids(1, 2, 3, 5), ids(3)[0])).toBe(3);
    expect(countUpTo(ids(1, 2, 3, 5), ids(4)[0])).toBe(3);
    expect(countUpTo(ids(1, 2), ids(0)[0])).toBe(0);
    expect(countUpTo(ids(1, 2), null)).toBe(2);
  });
});
