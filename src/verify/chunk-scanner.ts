/**
 * ChunkScanner: the walk. The run's holder plans it: it compares the legacy documents whose `_id` is not an
 * ObjectId (no segment holds them), then splits the ObjectId range into segments at the new store's quantiles.
 * Each segment is walked chunk by chunk (ChunkReader), comparing both stores by range digest and, where the
 * digests differ, record by record; the findings are stored as suspects together with the segment's cursor, so a
 * segment whose worker dies resumes, on any worker, after its last committed chunk. The run's holder rechecks
 * suspects that come due between its chunks, so a run with many differences does not wait for them all at the end.
 */
import { ChunkReader } from './chunk-reader';
import { compareRange, compareRecord, Finding } from './domain/compare';
import { segmentCount } from './domain/segment-count';
import type { VerifyRecord } from './domain/verify-record';
import type { Rechecker } from './rechecker';
import type { RunContext } from './run-context';
import type { VerifyMetrics } from './verify.metrics';
import type { Segment, VerifyRunRepository } from './verify-run.repository';
import { HEX_ID, LegacyVerifySource, NewVerifySource } from './verify-sources';

const OTHERS_BATCH = 500;

export class ChunkScanner {
  constructor(
    private readonly legacy: LegacyVerifySource,
    private readonly next: NewVerifySource,
    private readonly runs: VerifyRunRepository,
    private readonly rechecker: Rechecker,
    private readonly metrics: VerifyMetrics,
  ) {}

  /**
   * Plans the walk once (the run's holder only): the documents outside the ObjectId range are compared first, so
   * that once segments exist they are known to be done.
   */
  async plan(ctx: RunContext): Promise<void> {
    const { run } = ctx;
    if (await this.runs.segmentsPlanned(run.id)) return;
    const othersCompared = await this.otherIds(ctx);
    // Sized from the rows the walk covers, counted now: the run's estimate may be stale.
    const bounds = await this.next.splitPoints(run.scanCursor, (rows) =>
      segmentCount({ wanted: run.segmentsWanted, records: rows, chunkSize: run.chunkSize }),
    );
    ctx.checkStop();
    await this.runs.planSegments(run, ctx.worker, { startAfter: run.scanCursor, bounds, othersCompared });
  }

  /** Walks one segment to its end. `recheck`: the run's holder rechecks due suspects between chunks. */
  async scanSegment(ctx: RunContext, seg: Segment, recheck: boolean): Promise<void> {
    const { run } = ctx;
    const reader = new ChunkReader(this.legacy, this.next, seg.cursor ?? seg.startAfter, seg.endAt, run.chunkSize);
    let nextDue = recheck && run.pendingRecheck > 0 ? 0 : Infinity;
    try {
      for (;;) {
        ctx.checkStop();
        const chunk = await reader.next();
        if (chunk === null) return;
        const endTimer = this.metrics.chunkSeconds.startTimer();
        const range = compareRange(chunk.legacy, chunk.next);
        await this.runs.commitChunk(run, seg, ctx.worker, {
          cursor: chunk.upper,
          compared: range.compared,
          digestsDiffer: range.digestsDiffer,
          suspects: range.findings,
        });
        endTimer();
        this.metrics.recordsCompared.inc(range.compared);
        this.metrics.chunks.inc({ result: range.digestsDiffer ? 'differing' : 'equal' });
        if (chunk.upper === null) return;
        if (recheck) {
          if (range.findings.length > 0) nextDue = Math.min(nextDue, Date.now() + run.recheckDelayMs);
          if (Date.now() >= nextDue) {
            const wait = await this.rechecker.recheckDue(ctx);
            nextDue = wait === null ? Infinity : Date.now() + wait;
          }
        }
        if (run.pauseMs > 0) await ctx.sleep(run.pauseMs);
      }
    } finally {
      await reader.close();
    }
  }

  /** Legacy documents outside the ObjectId range: a 24-hex string `_id` is compared with that id's row. */
  private async compareOthers(others: VerifyRecord[]): Promise<Finding[]> {
    if (others.length === 0) return [];
    const rows = await this.next.byIds(others.filter((r) => HEX_ID.test(r.id)).map((r) => r.id));
    return others.map((r) => compareRecord(r.id, r, rows.get(r.id))).filter((f): f is Finding => f !== null);
  }

  /** Compares them; returns how many there were. */
  private async otherIds(ctx: RunContext): Promise<number> {
    let batch: VerifyRecord[] = [];
    let compared = 0;
    const flush = async () => {
      await this.runs.addSuspects(ctx.run, ctx.worker, await this.compareOthers(batch));
      compared += batch.length;
      batch = [];
    };
    for await (const record of this.legacy.otherIdRecords()) {
      batch.push(record);
      if (batch.length >= OTHERS_BATCH) await flush();
    }
    await flush();
    return compared;
  }
}
