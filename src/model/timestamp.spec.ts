import fc from 'fast-check';
import { isoWithOffset } from './testing/legacy-arbitraries';
import { fromDate, fromEpochMs, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, parseIsoTimestamp } from './timestamp';

const iso = (s: string) => {
  const r = parseIsoTimestamp(s);
  return r.ok ? r.date.toISOString() : r.problem;
};

describe('parseIsoTimestamp', () => {
  it.each([
    ['2021-03-04T05:06:07.123Z', '2021-03-04T05:06:07.123Z'],
    ['2021-03-04T05:06:07Z', '2021-03-04T05:06:07.000Z'],
    ['2021-03-04T05:06:07.1Z', '2021-03-04T05:06:07.100Z'],
    ['2021-03-04T05:06:07.123000000Z', '2021-03-04T05:06:07.123Z'],
    ['2021-03-04T07:06:07.123+02:00', '2021-03-04T05:06:07.123Z'],
    ['2021-03-03T23:36:07.123-05:30', '2021-03-04T05:06:07.123Z'],
    ['2021-03-04T05:06:07.123-00:00', '2021-03-04T05:06:07.123Z'],
    ['2020-02-29T00:00:00Z', '2020-02-29T00:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s', (input, expected) => {
    expect(iso(input)).toBe(expected);
  });

  it.each([
    ['yesterday', 'unparsable date'],
    ['2021-03-04', 'unparsable date'],
    ['2021-03-04T05:06:07', 'unparsable date'],
    ['2021-03-04 05:06:07Z', 'unparsable date'],
    ['2021-03-04t05:06:07z', 'unparsable date'],
    ['2021-03-04T05:06Z', 'unparsable date'],
    ['2021-03-04T05:06:07+0200', 'unparsable date'],
    ['+002021-03-04T05:06:07Z', 'unparsable date'],
    [' 2021-03-04T05:06:07Z', 'unparsable date'],
    ['1614834367123', 'unparsable date'],
    ['2021-03-04T05:06:07.1234Z', 'sub-millisecond precision in date'],
    ['2021-03-04T05:06:07+24:00', 'unparsable date (offset)'],
    ['2021-02-29T00:00:00Z', 'unparsable date (no such calendar time)'],
    ['2021-13-01T00:00:00Z', 'unparsable date (no such calendar time)'],
    ['2021-03-04T24:00:00Z', 'unparsable date (no such calendar time)'],
    ['2021-03-04T23:59:60Z', 'unparsable date (no such calendar time)'],
    ['0000-12-31T23:59:59Z', 'date outside years 0001..9999'],
    ['0001-01-01T00:00:00+00:01', 'date outside years 0001..9999'],
  ])('refuses %s', (input, problem) => {
    expect(iso(input)).toBe(problem);
  });

  it('reads toISOString() and any UTC offset of it back to the same millisecond (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9000, 0, 1) }),
        fc.integer({ min: -24 * 60 + 1, max: 24 * 60 - 1 }),
        (ms, offset) => {
          const date = new Date(ms);
          expect(iso(date.toISOString())).toBe(date.toISOString());
          expect(iso(isoWithOffset(date, offset))).toBe(date.toISOString());
        },
      ),
    );
  });
});

describe('fromEpochMs and fromDate', () => {
  it('accept whole milliseconds within range', () => {
    expect(fromEpochMs(0)).toEqual({ ok: true, date: new Date(0) });
    expect(fromEpochMs(MIN_TIMESTAMP_MS).ok).toBe(true);
    expect(fromEpochMs(MAX_TIMESTAMP_MS).ok).toBe(true);
    expect(fromDate(new Date(-1)).ok).toBe(true);
  });

  it.each<[number, string]>([
    [0.5, 'sub-millisecond precision in epoch milliseconds'],
    [NaN, 'epoch milliseconds not finite'],
    [Infinity, 'epoch milliseconds not finite'],
    [MIN_TIMESTAMP_MS - 1, 'date outside years 0001..9999'],
    [MAX_TIMESTAMP_MS + 1, 'date outside years 0001..9999'],
  ])('fromEpochMs refuses %p', (ms, problem) => {
    expect(fromEpochMs(ms)).toEqual({ ok: false, problem });
  });

  it('fromDate refuses an Invalid Date and copies a valid one', () => {
    expect(fromDate(new Date(NaN))).toEqual({ ok: false, problem: 'Invalid Date' });
    const d = new Date(5);
    const r = fromDate(d);
    expect(r.ok && r.date !== d && r.date.getTime() === 5).toBe(true);
  });
});
