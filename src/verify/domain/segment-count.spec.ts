import { MAX_SEGMENTS, segmentCount } from './segment-count';

describe('segmentCount', () => {
  it('is what the operator asked for, whatever the estimate', () => {
    expect(segmentCount({ wanted: 5, records: 0, chunkSize: 1000 })).toBe(5);
    expect(segmentCount({ wanted: 1, records: 10_000_000, chunkSize: 1000 })).toBe(1);
  });

  it('is one per ten chunks of the records otherwise, at least one and at most the maximum', () => {
    expect(segmentCount({ wanted: null, records: 0, chunkSize: 1000 })).toBe(1);
    expect(segmentCount({ wanted: null, records: 19_999, chunkSize: 1000 })).toBe(1);
    expect(segmentCount({ wanted: null, records: 45_000, chunkSize: 1000 })).toBe(4);
    expect(segmentCount({ wanted: null, records: 4_500, chunkSize: 100 })).toBe(4);
    expect(segmentCount({ wanted: null, records: 200_000, chunkSize: 1000 })).toBe(MAX_SEGMENTS);
  });
});
