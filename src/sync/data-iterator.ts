/**
 * DataIterator: reads the legacy store a batch at a time from a position (an `_id` checkpoint, or an
 * offset for the few documents whose `_id` is not an ObjectId). While the caller transforms and writes
 * batch n, batch n+1 is already being read, so reading and writing overlap; at most two batches are in
 * memory, whatever the collection's size. It holds no durable state: the position it starts from is
 * the committed checkpoint, and an abandoned prefetch is simply dropped.
 */
import type { LegacyDocument } from '../conversations/domain/legacy-document';

export interface Page<P> {
  docs: LegacyDocument[];
  /** The position after this page. */
  next: P;
  /** How long the read took (it may have overlapped the previous write). */
  readMs: number;
  /** The page was as large as asked for, so there may be more. */
  full: boolean;
}

export type PageReader<P> = (from: P, limit: number) => Promise<{ docs: LegacyDocument[]; next: P }>;

export class DataIterator<P> {
  private prefetched?: Promise<Page<P>>;

  constructor(
    private readonly read: PageReader<P>,
    private position: P,
    private readonly limit: () => number,
  ) {}

  async next(): Promise<Page<P>> {
    const page = await (this.prefetched ?? this.fetch(this.position));
    this.prefetched = undefined;
    this.position = page.next;
    if (page.full) {
      this.prefetched = this.fetch(page.next);
      // Observed when awaited; an abandoned prefetch must not become an unhandled rejection.
      this.prefetched.catch(() => undefined);
    }
    return page;
  }

  close(): void {
    this.prefetched = undefined;
  }

  private async fetch(from: P): Promise<Page<P>> {
    const limit = this.limit();
    const t0 = performance.now();
    const { docs, next } = await this.read(from, limit);
    return { docs, next, readMs: performance.now() - t0, full: docs.length >= limit };
  }
}
