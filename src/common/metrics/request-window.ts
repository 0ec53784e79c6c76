/**
 * This process's application requests over a sliding window, for the phase gates (error rate,
 * success rate, p99). Per-second buckets with a log-scale latency histogram keep memory fixed
 * whatever the traffic; p99 is accurate to one histogram bin (about 12 %).
 */
const BINS = 64;
const BASE_MS = 0.5;
const GROWTH = 1.25;

function binOf(ms: number): number {
  if (ms <= BASE_MS) return 0;
  return Math.min(BINS - 1, Math.ceil(Math.log(ms / BASE_MS) / Math.log(GROWTH)));
}

/** Upper edge of a bin, in milliseconds. */
const edgeOf = (bin: number) => BASE_MS * GROWTH ** bin;

interface Bucket {
  second: number;
  total: number;
  serverErrors: number;
  throttled: number;
  latency: Uint32Array;
}

export interface WindowStats {
  requests: number;
  errorRate: number | null;
  successRate: number | null;
  p99Ms: number | null;
}

export class RequestWindow {
  private readonly buckets: Bucket[];

  constructor(
    private readonly maxWindowSeconds = 3600,
    private readonly clock: () => number = Date.now,
  ) {
    this.buckets = Array.from({ length: maxWindowSeconds }, () => ({
      second: -1,
      total: 0,
      serverErrors: 0,
      throttled: 0,
      latency: new Uint32Array(BINS),
    }));
  }

  record(status: number, durationMs: number): void {
    const second = Math.floor(this.clock() / 1000);
    const b = this.buckets[second % this.maxWindowSeconds];
    if (b.second !== second) {
      b.second = second;
      b.total = b.serverErrors = b.throttled = 0;
      b.latency.fill(0);
    }
    b.total++;
    if (status >= 500) b.serverErrors++;
    if (status === 429) b.throttled++;
    b.latency[binOf(durationMs)]++;
  }

  /** Error rate: share of 5xx. Success rate: share answered without a 5xx or a 429. */
  stats(windowMs: number): WindowStats {
    const now = Math.floor(this.clock() / 1000);
    const from = now - Math.min(this.maxWindowSeconds, Math.ceil(windowMs / 1000)) + 1;
    let total = 0;
    let errors = 0;
    let throttled = 0;
    const latency = new Array<number>(BINS).fill(0);
    for (const b of this.buckets) {
      if (b.second < from || b.second > now) continue;
      total += b.total;
      errors += b.serverErrors;
      throttled += b.throttled;
      for (let i = 0; i < BINS; i++) latency[i] += b.latency[i];
    }
    if (total === 0) return { requests: 0, errorRate: null, successRate: null, p99Ms: null };
    const rank = Math.ceil(total * 0.99);
    let seen = 0;
    let p99 = edgeOf(BINS - 1);
    for (let i = 0; i < BINS; i++) {
      seen += latency[i];
      if (seen >= rank) {
        p99 = edgeOf(i);
        break;
      }
    }
    return {
      requests: total,
      errorRate: errors / total,
      successRate: (total - errors - throttled) / total,
      p99Ms: Math.round(p99 * 100) / 100,
    };
  }
}
