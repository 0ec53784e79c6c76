import { sampleConversation } from '../model/testing/fixtures';
import { ChunkReader } from './chunk-reader';
import { recordOf, VerifyRecord } from './domain/verify-record';
import type { LegacyScan, LegacyVerifySource, NewVerifySource } from './verify-sources';

const id = (n: number) => n.toString(16).padStart(24, '0');
const rec = (n: number) => recordOf(sampleConversation({ id: id(n) }));

/** In-memory fakes of the two ports; they record the largest read so the test can check memory bounds. */
function fakes(legacyIds: number[], newIds: number[], others: VerifyRecord[] = []) {
  const reads = { legacyMax: 0, newMax: 0 };
  const legacy: LegacyVerifySource = {
    openScan(after) {
      let pos = 0;
      const all = legacyIds.map(rec).filter((r) => after === null || r.id > after);
      let pendingOthers = after === null ? [...others] : [];
      const scan: LegacyScan = {
        async next(max) {
          const records = all.slice(pos, pos + max);
          pos += records.length;
          reads.legacyMax = Math.max(reads.legacyMax, records.length);
          const out = { records, others: pendingOthers, exhausted: pos >= all.length };
          pendingOthers = [];
          return out;
        },
        async close() {},
      };
      return scan;
    },
    async *otherIdRecords() {},
    async byId() {
      return null;
    },
    async hasStringId() {
      return false;
    },
  };
  const next: NewVerifySource = {
    async page(after, limit) {
      const page = newIds
        .map(rec)
        .filter((r) => after === null || r.id > after)
        .slice(0, limit);
      reads.newMax = Math.max(reads.newMax, page.length);
      return page;
    },
    async byIds() {
      return new Map();
    },
  };
  return { legacy, next, reads };
}

async function walk(reader: ChunkReader) {
  const chunks = [];
  for (let c = await reader.next(); c !== null; c = await reader.next()) chunks.push(c);
  await reader.close();
  return chunks;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('ChunkReader', () => {
  it('covers the same id range on both sides, every id exactly once', async () => {
    const legacyIds = range(1, 95);
    const newIds = [...range(1, 40), ...range(60, 120)];
    const { legacy, next } = fakes(legacyIds, newIds);
    const chunks = await walk(new ChunkReader(legacy, next, null, 10));
    expect(chunks.flatMap((c) => c.legacy.map((r) => parseInt(r.id, 16)))).toEqual(legacyIds);
    expect(chunks.flatMap((c) => c.next.map((r) => parseInt(r.id, 16)))).toEqual(newIds);
    let lower = '';
    for (const c of chunks) {
      for (const r of [...c.legacy, ...c.next]) {
        expect(r.id > lower).toBe(true);
        if (c.upper !== null) expect(r.id <= c.upper).toBe(true);
      }
      lower = c.upper ?? 'z';
      expect(c.legacy.length).toBeLessThanOrEqual(10);
      expect(c.next.length).toBeLessThanOrEqual(10);
    }
    expect(chunks[chunks.length - 1].upper).toBeNull();
  });

  it('keeps chunks bounded when one side is empty', async () => {
    const { legacy, next, reads } = fakes(range(1, 1000), []);
    const chunks = await walk(new ChunkReader(legacy, next, null, 100));
    expect(chunks).toHaveLength(10);
    expect(reads.legacyMax).toBeLessThanOrEqual(100);
  });

  it('resumes after a cursor and passes on documents outside the ObjectId range', async () => {
    const odd = { ...rec(0), id: '42' };
    const { legacy, next } = fakes(range(1, 30), range(1, 30), [odd]);
    const fromStart = await walk(new ChunkReader(legacy, next, null, 7));
    expect(fromStart.flatMap((c) => c.others)).toEqual([odd]);
    const resumed = await walk(new ChunkReader(legacy, next, id(20), 7));
    expect(resumed.flatMap((c) => c.legacy.map((r) => parseInt(r.id, 16)))).toEqual(range(21, 30));
    expect(resumed.flatMap((c) => c.others)).toEqual([]);
  });

  it('hands out one empty last chunk for two empty stores', async () => {
    const { legacy, next } = fakes([], []);
    expect(await walk(new ChunkReader(legacy, next, null, 10))).toEqual([{ legacy: [], next: [], others: [], upper: null }]);
  });
});
