/**
 * Exact counts of the `_id` space in bounded memory, for the backfill's split: one pass over the ids,
 * in any order, then ranges of about `rangeSize` documents whose counts are exact.
 *
 * Ids are counted per hex prefix. It starts at the whole id (24 hex characters: one bucket per document)
 * and, whenever the buckets exceed `maxBuckets`, drops the last character of every key (merging up to
 * 16 buckets into one). So a collection of up to `maxBuckets` documents is split exactly every
 * `rangeSize` ids, like a sorted walk would; a larger one at bucket edges, each range overshooting
 * `rangeSize` by less than one bucket. Hex prefixes of equal length sort as the ObjectIds do.
 */

export interface PlannedRange {
  /** Exclusive lower bound (hex), null for the first range. */
  startAfter: string | null;
  /** Inclusive upper bound (hex). */
  endAt: string;
  /** Exact number of ObjectIds in (startAfter, endAt]. */
  docs: number;
}

export interface SplitPlan {
  ranges: PlannedRange[];
  /** The largest ObjectId seen (the last range ends there); null when there was none. */
  maxId: string | null;
  /** Documents whose `_id` is not an ObjectId (the backfill's range 0). */
  others: number;
  /** Ids counted, of any type. */
  scanned: number;
  /** Hex characters per bucket at the end (24: exact ids). */
  prefixLength: number;
}

const ID_HEX = 24;

export class IdHistogram {
  private counts = new Map<string, number>();
  private prefixLength = ID_HEX;
  private maxId: string | null = null;
  private others = 0;
  private scanned = 0;

  constructor(private readonly maxBuckets = 65_536) {
    if (!Number.isSafeInteger(maxBuckets) || maxBuckets < 1)
      throw new RangeError(`maxBuckets must be a positive integer, got ${maxBuckets}`);
  }

  /** One id: hex (24 lower-case characters) for an ObjectId, null for any other type. */
  add(id: string | null): void {
    this.scanned++;
    if (id === null) {
      this.others++;
      return;
    }
    if (this.maxId === null || id > this.maxId) this.maxId = id;
    const key = this.prefixLength === ID_HEX ? id : id.slice(0, this.prefixLength);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    while (this.counts.size > this.maxBuckets) this.coarsen();
  }

  get size(): number {
    return this.scanned;
  }

  /**
   * Consecutive ranges covering every ObjectId seen, each closed as soon as it holds `rangeSize`
   * documents or more; the last one ends at the largest id.
   */
  plan(rangeSize: number): SplitPlan {
    if (!Number.isSafeInteger(rangeSize) || rangeSize < 1) throw new RangeError(`rangeSize must be a positive integer, got ${rangeSize}`);
    const keys = [...this.counts.keys()].sort();
    const ranges: PlannedRange[] = [];
    let startAfter: string | null = null;
    let docs = 0;
    keys.forEach((key, i) => {
      docs += this.counts.get(key)!;
      const last = i === keys.length - 1;
      if (docs >= rangeSize || last) {
        const endAt = last ? this.maxId! : key.padEnd(ID_HEX, 'f');
        ranges.push({ startAfter, endAt, docs });
        startAfter = endAt;
        docs = 0;
      }
    });
    return { ranges, maxId: this.maxId, others: this.others, scanned: this.scanned, prefixLength: this.prefixLength };
  }

  private coarsen(): void {
    this.prefixLength--;
    const merged = new Map<string, number>();
    for (const [key, n] of this.counts) {
      const k = key.slice(0, this.prefixLength);
      merged.set(k, (merged.get(k) ?? 0) + n);
    }
    this.counts = merged;
  }
}
