/**
 * ChunkScanner: the walk. Chunk by chunk (ChunkReader), it compares both stores by range digest and, where
 * the digests differ, record by record; the findings are stored as suspects together with the run's
 * cursor, so a run killed at any point resumes after its last committed chunk. Suspects that come due
 * while the walk goes on are rechecked between chunks, so a run with many differences does not wait
 * for them all at the end.
 */
import { ChunkReader } from './chunk-reader';
import { compareRange, compareRecord, Finding } from './domain/compare';
import type { VerifyRecord } from './domain/verify-record';
import type { Rechecker } from './rechecker';
import type { RunContext } from './run-context';
import type { VerifyMetrics } from './verify.metrics';
import type { VerifyRunRepository } from './verify-run.repository';
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

  async scan(ctx: RunContext): Promise<void> {
    const { run } = ctx;
    // A cursor that starts inside the ObjectId range never meets the other `_id` types: compare them first.
    if (run.scanCursor !== null) await this.otherIds(ctx);
    const reader = new ChunkReader(this.legacy, this.next, run.scanCursor, run.chunkSize);
    let nextDue = run.pendingRecheck > 0 ? 0 : Infinity;
    try {
      for (;;) {
        ctx.checkStop();
        const chunk = await reader.next();
        if (chunk === null) return;
        const endTimer = this.metrics.chunkSeconds.startTimer();
        const range = compareRange(chunk.legacy, chunk.next);
        const others = await this.compareOthers(chunk.others);
        const suspects = [...range.findings, ...others];
        const compared = range.compared + chunk.others.length;
        await this.runs.commitChunk(run, ctx.worker, {
          cursor: chunk.upper,
          compared,
          digestsDiffer: range.digestsDiffer || others.length > 0,
          suspects,
        });
        endTimer();
        this.metrics.recordsCompared.inc(compared);
        this.metrics.chunks.inc({ result: range.digestsDiffer ? 'differing' : 'equal' });
        if (chunk.upper === null) return;
        if (suspects.length > 0) nextDue = Math.min(nextDue, Date.now() + run.recheckDelayMs);
        if (Date.now() >= nextDue) {
          const wait = await this.rechecker.recheckDue(ctx);
          nextDue = wait === null ? Infinity : Date.now() + wait;
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

  private async otherIds(ctx: RunContext): Promise<void> {
    let batch: VerifyRecord[] = [];
    const flush = async () => {
      await this.runs.addSuspects(ctx.run, ctx.worker, await this.compareOthers(batch));
      batch = [];
    };
    for await (const record of this.legacy.otherIdRecords()) {
      batch.push(record);
      if (batch.length >= OTHERS_BATCH) await flush();
    }
    await flush();
  }
}
