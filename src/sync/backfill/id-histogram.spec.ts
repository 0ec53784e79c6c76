import { ObjectId } from 'mongodb';
import { IdHistogram } from './id-histogram';

const hex = (n: number) => n.toString(16).padStart(24, '0');

/** Every ObjectId in `ids` that lies in (startAfter, endAt]. */
const inRange = (ids: string[], startAfter: string | null, endAt: string) =>
  ids.filter((id) => (startAfter === null || id > startAfter) && id <= endAt);

describe('IdHistogram', () => {
  it('splits exactly every rangeSize ids while each id has its own bucket, whatever the input order', () => {
    const ids = Array.from({ length: 1000 }, () => new ObjectId().toHexString());
    const h = new IdHistogram();
    for (const id of [...ids].reverse()) h.add(id);
    h.add(null);
    h.add(null);
    const plan = h.plan(200);
    const sorted = [...ids].sort();
    expect(plan.ranges.map((r) => r.docs)).toEqual([200, 200, 200, 200, 200]);
    expect(plan.ranges.map((r) => r.endAt)).toEqual([sorted[199], sorted[399], sorted[599], sorted[799], sorted[999]]);
    expect(plan.ranges[0].startAfter).toBeNull();
    expect(plan).toMatchObject({ maxId: sorted[999], others: 2, scanned: 1002, prefixLength: 24 });
  });

  it('ends with a short last range at the largest id', () => {
    const h = new IdHistogram();
    for (let i = 1; i <= 450; i++) h.add(hex(i));
    const plan = h.plan(200);
    expect(plan.ranges).toEqual([
      { startAfter: null, endAt: hex(200), docs: 200 },
      { startAfter: hex(200), endAt: hex(400), docs: 200 },
      { startAfter: hex(400), endAt: hex(450), docs: 50 },
    ]);
  });

  it('keeps memory bounded by merging buckets, and the counts stay exact', () => {
    const ids: string[] = [];
    const t0 = Math.floor(Date.UTC(2019, 0, 1) / 1000);
    for (let i = 0; i < 20_000; i++)
      ids.push((t0 + i * 977).toString(16).padStart(8, '0') + 'a1b2c3d4e5' + (i & 0xffffff).toString(16).padStart(6, '0'));
    const h = new IdHistogram(1000);
    for (const id of ids) h.add(id);
    const plan = h.plan(3000);
    expect(plan.prefixLength).toBeLessThan(24);
    expect(plan.ranges.reduce((n, r) => n + r.docs, 0)).toBe(ids.length);
    for (const r of plan.ranges) expect(inRange(ids, r.startAfter, r.endAt).length).toBe(r.docs);
    for (const r of plan.ranges.slice(0, -1)) expect(r.docs).toBeGreaterThanOrEqual(3000);
    // Each range overshoots by less than one bucket: here about 20,000 / 1,000 ids at most.
    for (const r of plan.ranges) expect(r.docs).toBeLessThan(3000 + 100);
    expect(plan.ranges[plan.ranges.length - 1].endAt).toBe([...ids].sort()[ids.length - 1]);
    for (let i = 1; i < plan.ranges.length; i++) expect(plan.ranges[i].startAfter).toBe(plan.ranges[i - 1].endAt);
  });

  it('plans nothing for a collection without ObjectIds', () => {
    const h = new IdHistogram();
    h.add(null);
    expect(h.plan(10)).toEqual({ ranges: [], maxId: null, others: 1, scanned: 1, prefixLength: 24 });
  });

  it('refuses nonsense sizes', () => {
    expect(() => new IdHistogram(0)).toThrow(RangeError);
    expect(() => new IdHistogram().plan(0)).toThrow(RangeError);
  });
});
