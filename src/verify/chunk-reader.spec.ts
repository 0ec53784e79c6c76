import { sampleConversation } from '../model/testing/fixtures';
import { ChunkReader } from './chunk-reader';
import { recordOf } from './domain/verify-record';
import type { LegacyScan, LegacyVerifySource, NewVerifySource } from './verify-sources';

const id = (n: number) => n.toString(16).padStart(24, '0');
const rec = (n: number) => recordOf(sampleConversation({ id: id(n) }));

/** In-memory fakes of the two ports; they record the largest read so the test can check memory bounds. */
function fakes(legacyIds: number[], newIds: number[]) {
  const reads = { legacyMax: 0, newMax: 0 };
  const within = (after: string | null, until: string | null) => (r: { id: string }) =>
    (after === null || r.id > after) && (until === null || r.id <= until);
  const legacy: LegacyVerifySource = {
    openScan(after, until) {
      let pos = 0;
      const all = legacyIds.map(rec).filter(within(after, until));
      const scan: LegacyScan = {
        async next(max) {
          const records = all.slice(pos, pos + max);
          pos += records.length;
          reads.legacyMax = Math.max(reads.legacyMax, records.length);
          return { records, exhausted: pos >= all.length };
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
    async page(after, until, limit) {
      const page = newIds.map(rec).filter(within(after, until)).slice(0, limit);
      reads.newMax = Math.max(reads.newMax, page.length);
      return page;
    },
    async byIds() {
      return new Map();
    },
    async splitPoints() {
      return [];
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
    const chunks = await walk(new ChunkReader(legacy, next, null, null, 10));
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
    const chunks = await walk(new ChunkReader(legacy, next, null, null, 100));
    expect(chunks).toHaveLength(10);
    expect(reads.legacyMax).toBeLessThanOrEqual(100);
  });

  it('resumes after a cursor, and walks a segment up to its end and no further on either side', async () => {
    const { legacy, next } = fakes(range(1, 30), [...range(1, 12), ...range(25, 40)]);
    const resumed = await walk(new ChunkReader(legacy, next, id(20), null, 7));
    expect(resumed.flatMap((c) => c.legacy.map((r) => parseInt(r.id, 16)))).toEqual(range(21, 30));
    const segment = await walk(new ChunkReader(legacy, next, id(5), id(26), 4));
    expect(segment.flatMap((c) => c.legacy.map((r) => parseInt(r.id, 16)))).toEqual(range(6, 26));
    expect(segment.flatMap((c) => c.next.map((r) => parseInt(r.id, 16)))).toEqual([...range(6, 12), 25, 26]);
    expect(segment[segment.length - 1].upper).toBeNull();
    expect(segment.every((c) => c.upper === null || c.upper <= id(26))).toBe(true);
  });

  it('hands out one empty last chunk for two empty stores', async () => {
    const { legacy, next } = fakes([], []);
    expect(await walk(new ChunkReader(legacy, next, null, null, 10))).toEqual([{ legacy: [], next: [], upper: null }]);
  });
});
