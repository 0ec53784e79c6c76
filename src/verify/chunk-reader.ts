/**
 * ChunkReader: walks one `_id` segment of both stores in ascending id order and hands out chunks that cover the
 * same id range on both sides (see domain/chunk-bounds.ts). Each side is buffered up to one chunk ahead: while the
 * caller hashes, compares and commits chunk n, the reads for chunk n+1 are already in flight, so the
 * walk costs about as much as the slower store's scan. At most two chunks per side are in memory,
 * whatever the size of the stores. It holds no durable state: a resumed run opens a new reader at its
 * committed cursor.
 */
import { chunkUpperBound, countUpTo } from './domain/chunk-bounds';
import type { VerifyRecord } from './domain/verify-record';
import type { LegacyScan, LegacyVerifySource, NewVerifySource } from './verify-sources';

export interface Chunk {
  legacy: VerifyRecord[];
  next: VerifyRecord[];
  /** The chunk's last id (the segment's cursor after it), or null when it is the segment's last chunk. */
  upper: string | null;
}

class Side {
  buffer: VerifyRecord[] = [];
  exhausted = false;
}

export class ChunkReader {
  private readonly legacy = new Side();
  private readonly next_ = new Side();
  private readonly scan: LegacyScan;
  private newAfter: string | null;
  private filling?: Promise<unknown>;
  private finished = false;

  constructor(
    legacySource: LegacyVerifySource,
    private readonly newSource: NewVerifySource,
    after: string | null,
    private readonly until: string | null,
    private readonly limit: number,
  ) {
    this.scan = legacySource.openScan(after, until, limit);
    this.newAfter = after;
  }

  /** The next chunk, or null when the segment is walked in both stores. */
  async next(): Promise<Chunk | null> {
    if (this.finished) return null;
    await (this.filling ?? this.fill());
    this.filling = undefined;
    const upper = chunkUpperBound(
      { ids: this.legacy.buffer.map((r) => r.id), exhausted: this.legacy.exhausted },
      { ids: this.next_.buffer.map((r) => r.id), exhausted: this.next_.exhausted },
      this.limit,
    );
    const legacy = this.legacy.buffer.splice(
      0,
      countUpTo(
        this.legacy.buffer.map((r) => r.id),
        upper,
      ),
    );
    const next = this.next_.buffer.splice(
      0,
      countUpTo(
        this.next_.buffer.map((r) => r.id),
        upper,
      ),
    );
    if (upper === null) {
      this.finished = true;
    } else {
      this.filling = this.fill();
      // Observed by the next call; a walk abandoned in between must not leave an unhandled rejection.
      this.filling.catch(() => undefined);
    }
    return { legacy, next, upper };
  }

  async close(): Promise<void> {
    this.finished = true;
    await this.filling?.catch(() => undefined);
    await this.scan.close();
  }

  private fill(): Promise<unknown> {
    return Promise.all([this.fillLegacy(), this.fillNew()]);
  }

  private async fillLegacy(): Promise<void> {
    const side = this.legacy;
    while (side.buffer.length < this.limit && !side.exhausted) {
      const batch = await this.scan.next(this.limit - side.buffer.length);
      side.buffer.push(...batch.records);
      side.exhausted = batch.exhausted;
    }
  }

  private async fillNew(): Promise<void> {
    const side = this.next_;
    while (side.buffer.length < this.limit && !side.exhausted) {
      const want = this.limit - side.buffer.length;
      const page = await this.newSource.page(this.newAfter, this.until, want);
      side.buffer.push(...page);
      if (page.length > 0) this.newAfter = page[page.length - 1].id;
      side.exhausted = page.length < want;
    }
  }
}
