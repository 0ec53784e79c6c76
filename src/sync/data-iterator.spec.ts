import type { LegacyDocument } from '../conversations/domain/legacy-document';
import { DataIterator } from './data-iterator';

const docs = (ids: number[]) => ids.map((i) => ({ _id: String(i) }) as unknown as LegacyDocument);

describe('DataIterator', () => {
  it('pages from the position and reads the next page while the caller works on this one', async () => {
    const source = Array.from({ length: 7 }, (_, i) => i + 1);
    const reads: Array<{ from: number; limit: number }> = [];
    const it = new DataIterator<number>(
      async (from, limit) => {
        reads.push({ from, limit });
        const page = source.filter((i) => i > from).slice(0, limit);
        return { docs: docs(page), next: page.length ? page[page.length - 1] : from };
      },
      2,
      () => 3,
    );
    const first = await it.next();
    expect(first.docs.map((d) => d._id)).toEqual(['3', '4', '5']);
    expect(first.full).toBe(true);
    // The second page was asked for before the caller asked.
    expect(reads).toEqual([{ from: 2, limit: 3 }, { from: 5, limit: 3 }]);
    const second = await it.next();
    expect(second.docs.map((d) => d._id)).toEqual(['6', '7']);
    expect(second.full).toBe(false);
    // A short page ends the range: nothing more is read.
    expect(reads).toHaveLength(2);
  });

  it('drops a failed prefetch it no longer needs without an unhandled rejection', async () => {
    let calls = 0;
    const it = new DataIterator<number>(
      async () => {
        calls++;
        if (calls === 2) throw new Error('legacy down');
        return { docs: docs([1]), next: 1 };
      },
      0,
      () => 1,
    );
    await it.next();
    it.close();
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(2);
  });
});
