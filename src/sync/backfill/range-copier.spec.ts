import { Logger } from '@nestjs/common';
import type { SyncConfig } from '../sync.config';
import type { LegacyRangeScan, LegacyStore } from '../../stores/legacy-store.port';
import type { BatchWriter } from '../batch-writer';
import type { SyncMetrics } from '../sync-metrics';
import type { LatencySignal, Throttler } from '../throttle/throttler';
import { RangeCopier } from './range-copier';
import type { Claim, RangeStateTracker } from './range-state.tracker';
import type { RunRepository } from './run.repository';

const hex = (n: number) => n.toString(16).padStart(24, '0');
const doc = (n: number) => ({ _id: { toHexString: () => hex(n), n } });

interface FakeRange {
  rangeNo: number;
  startAfter: string | null;
  endAt: string;
  status: 'pending' | 'running' | 'done';
  checkpoint: string | null;
  heldBy?: string;
}

/**
 * A legacy collection of documents 1..n, read through scans the test can count. Its server batches hold
 * `serverBatch` documents: a read that goes past the batch the scan holds waits `fetchMs` per batch fetched.
 */
function fakeLegacy(n: number, serverBatch = 4, fetchMs = 900) {
  const scans: Array<{ from: string | null; until: string | null }> = [];
  const legacy = {
    averageDocumentBytes: async () => 500,
    openRangeScan(from: string | null, until: string | null): LegacyRangeScan {
      scans.push({ from, until });
      let next = from === null ? 1 : parseInt(from, 16) + 1;
      const last = until === null ? n : Math.min(n, parseInt(until, 16));
      // Documents left of the batch in hand; the first batch comes with the opening query, which is not a fetch.
      let buffered = 0;
      let opened = false;
      const scan = {
        async next(max: number, endAt?: string) {
          const end = Math.min(last, endAt ? parseInt(endAt, 16) : last);
          const out = [];
          scan.lastFetches = { count: 0, ms: 0 };
          while (out.length < max && next <= end) {
            if (buffered === 0) {
              if (opened) scan.lastFetches = { count: scan.lastFetches.count + 1, ms: scan.lastFetches.ms + fetchMs };
              opened = true;
              buffered = serverBatch;
            }
            buffered--;
            out.push(doc(next++));
          }
          return out as never;
        },
        async skipThrough(id: string) {
          next = Math.max(next, parseInt(id, 16) + 1);
        },
        async close() {},
        stoppedAtBytes: false,
        lastBytes: 0,
        lastFetches: { count: 0, ms: 0 },
      };
      return scan;
    },
  };
  return { legacy: legacy as unknown as LegacyStore, scans };
}

function setup(ranges: FakeRange[], docs: number, batchSize = 3) {
  const { legacy, scans } = fakeLegacy(docs);
  const batches: Array<{ rangeNo: number; ids: number[]; checkpoint: string | null }> = [];
  const byNo = new Map(ranges.map((r) => [r.rangeNo, r]));
  const tracker = {
    async claim(_runId: number, rangeNo: number, token: string): Promise<Claim> {
      const r = byNo.get(rangeNo)!;
      if (r.status === 'done') return { outcome: 'done' };
      if (r.heldBy && r.heldBy !== token) return { outcome: 'held', retryInMs: 500 };
      r.status = 'running';
      r.heldBy = token;
      return {
        outcome: 'claimed',
        range: {
          runId: 1,
          rangeNo,
          kind: 'ids',
          startAfter: r.startAfter,
          endAt: r.endAt,
          checkpoint: r.checkpoint,
          docsRead: 0,
          batchSize,
        },
      };
    },
    async holdLease() {},
    async checkpoint(_q: unknown, _runId: number, rangeNo: number, _token: string, position: string | null) {
      byNo.get(rangeNo)!.checkpoint = position;
    },
    async finish(_runId: number, rangeNo: number) {
      byNo.get(rangeNo)!.status = 'done';
      return true;
    },
    async release() {},
    heartbeat: () => ({ lost: false, stop: async () => undefined }),
  } as unknown as RangeStateTracker;
  const runs = {
    async lane() {
      return {
        ranges: ranges.map((r) => ({ rangeNo: r.rangeNo, status: r.status, endAt: r.endAt })),
        endAt: ranges[ranges.length - 1].endAt,
      };
    },
    async completeIfDone() {
      return ranges.every((r) => r.status === 'done');
    },
  } as unknown as RunRepository;
  let current: FakeRange | undefined;
  const writer = {
    prepare: (d: Array<ReturnType<typeof doc>>) => ({ ids: d.map((x) => x._id.n) }),
    async write(batch: { ids: number[] }, hooks: { begin(q: unknown): Promise<void>; commit(q: unknown, r: unknown): Promise<void> }) {
      await hooks.begin({});
      const result = { read: batch.ids.length, written: batch.ids.length, skipped: 0, dead: 0, writtenIds: [] };
      await hooks.commit({}, result);
      current = ranges.find((r) => r.checkpoint === hex(batch.ids[batch.ids.length - 1]));
      batches.push({ rangeNo: current?.rangeNo ?? -1, ids: batch.ids, checkpoint: current?.checkpoint ?? null });
      return result;
    },
  } as unknown as BatchWriter;
  const latencies: Array<[LatencySignal, number]> = [];
  const throttler: Throttler = {
    isPaused: async () => false,
    throttled: async () => undefined,
    batchLimit: (n: number) => n,
    observeLatency: (signal, ms) => latencies.push([signal, ms]),
  };
  const metrics = { batchDone: () => undefined } as unknown as SyncMetrics;
  const config = { leaseMs: 1000 } as SyncConfig;
  const copier = new RangeCopier(config, legacy, tracker, runs, writer, throttler, metrics);
  return { copier, scans, batches, ranges, latencies };
}

describe('RangeCopier', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));

  it('copies a lane through one cursor, range by range, each batch inside one range with its checkpoint', async () => {
    const { copier, scans, batches, ranges } = setup(
      [
        { rangeNo: 1, startAfter: null, endAt: hex(4), status: 'pending', checkpoint: null },
        { rangeNo: 2, startAfter: hex(4), endAt: hex(7), status: 'pending', checkpoint: null },
        { rangeNo: 3, startAfter: hex(7), endAt: hex(10), status: 'pending', checkpoint: null },
      ],
      10,
    );
    expect(await copier.copy(1, 1)).toEqual({ outcome: 'done', runCompleted: true });
    expect(scans).toEqual([{ from: null, until: hex(10) }]);
    expect(batches.map((b) => b.ids)).toEqual([[1, 2, 3], [4], [5, 6, 7], [8, 9, 10]]);
    expect(batches.map((b) => b.rangeNo)).toEqual([1, 1, 2, 3]);
    expect(ranges.map((r) => r.status)).toEqual(['done', 'done', 'done']);
  });

  it('resumes at the checkpoint and steps over ranges done meanwhile without another cursor', async () => {
    const { copier, scans, batches } = setup(
      [
        { rangeNo: 1, startAfter: null, endAt: hex(4), status: 'running', checkpoint: hex(2) },
        { rangeNo: 2, startAfter: hex(4), endAt: hex(7), status: 'done', checkpoint: hex(7) },
        { rangeNo: 3, startAfter: hex(7), endAt: hex(10), status: 'pending', checkpoint: null },
      ],
      10,
    );
    expect(await copier.copy(1, 1)).toMatchObject({ outcome: 'done' });
    expect(scans).toEqual([{ from: hex(2), until: hex(10) }]);
    expect(batches.map((b) => b.ids)).toEqual([
      [3, 4],
      [8, 9, 10],
    ]);
  });

  it('stops at a range another worker holds, after finishing the ones before it', async () => {
    const { copier, batches, ranges } = setup(
      [
        { rangeNo: 1, startAfter: null, endAt: hex(3), status: 'pending', checkpoint: null },
        { rangeNo: 2, startAfter: hex(3), endAt: hex(6), status: 'running', checkpoint: null, heldBy: 'someone else' },
      ],
      6,
    );
    expect(await copier.copy(1, 1)).toEqual({ outcome: 'held', retryInMs: 500 });
    expect(batches.map((b) => b.ids)).toEqual([[1, 2, 3]]);
    expect(ranges.map((r) => r.status)).toEqual(['done', 'running']);
  });

  // A batch served from the documents the cursor holds takes milliseconds, one that waits for the server much longer:
  // fed both, the back-off would take the fast ones for the baseline and call the server's normal pace an overload.
  it("reports the legacy store's latency as that of its server round trips only", async () => {
    const { copier, latencies } = setup([{ rangeNo: 1, startAfter: null, endAt: hex(30), status: 'pending', checkpoint: null }], 30);
    expect(await copier.copy(1, 1)).toMatchObject({ outcome: 'done' });
    const reads = latencies.filter(([signal]) => signal === 'legacy_read').map(([, ms]) => ms);
    // 30 documents read 3 at a time from server batches of 4: the opening query brings 1-4, then 7 fetches bring the
    // rest. Reads 1, 4 and 8 are served from the batch in hand; each of the 7 others waits for one fetch.
    expect(reads).toEqual(Array(7).fill(900));
  });

  it('lets one copy of a lane through when its job is delivered twice: the other finds the range held', async () => {
    const { copier, batches, scans } = setup([{ rangeNo: 1, startAfter: null, endAt: hex(30), status: 'pending', checkpoint: null }], 30);
    const [a, b] = await Promise.all([copier.copy(1, 1), copier.copy(1, 1)]);
    expect([a, b]).toEqual(
      expect.arrayContaining([
        { outcome: 'done', runCompleted: true },
        { outcome: 'held', retryInMs: 500 },
      ]),
    );
    expect(scans).toHaveLength(1);
    expect(batches.flatMap((x) => x.ids)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});
