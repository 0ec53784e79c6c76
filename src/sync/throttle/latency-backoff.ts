/**
 * Latency back-off. Each signal (a store's batch latency, the API's request latency) keeps a fast moving
 * average and a baseline that follows it down quickly but up only slowly, so the baseline is "normal"
 * and a sustained rise shows up as fast >> baseline. The baseline does not jump to every dip of the fast
 * average: on a busy machine a healthy latency is noisy (in one bench run the dev server's getMores of one size
 * took 0.6 s to 1.2 s), and a baseline set by its lowest moments calls the noise itself an overload. While any
 * signal is overloaded, the delay between batches doubles (up to a ceiling); once all are healthy again it halves
 * back to zero (AIMD, the way TCP backs off). A signal needs a few samples before it can call overload, so one slow
 * first batch (cold caches) does not throttle a run.
 */
export type LatencySignal = 'legacy_read' | 'new_write' | 'api';

const FAST_ALPHA = 0.3;
/** How far the baseline moves toward the fast average per sample: down quickly, up slowly. */
const BASELINE_FALL = 0.1;
const BASELINE_RISE = 0.01;
const WARM_UP_SAMPLES = 5;

interface SignalState {
  fast: number;
  baseline: number;
  samples: number;
}

export class LatencyTracker {
  private readonly signals = new Map<string, SignalState>();

  constructor(
    private readonly factor: number,
    private readonly minDeltaMs: number,
  ) {}

  observe(signal: LatencySignal, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const s = this.signals.get(signal);
    if (!s) {
      this.signals.set(signal, { fast: ms, baseline: ms, samples: 1 });
      return;
    }
    s.fast += FAST_ALPHA * (ms - s.fast);
    s.baseline += (s.fast < s.baseline ? BASELINE_FALL : BASELINE_RISE) * (s.fast - s.baseline);
    s.samples++;
  }

  /** The signals currently above their baseline by the factor and the minimum delta. */
  overloaded(): LatencySignal[] {
    const out: LatencySignal[] = [];
    for (const [name, s] of this.signals) {
      if (s.samples >= WARM_UP_SAMPLES && s.fast > s.baseline * this.factor && s.fast - s.baseline > this.minDeltaMs) {
        out.push(name as LatencySignal);
      }
    }
    return out;
  }

  snapshot(): Record<string, { fastMs: number; baselineMs: number; samples: number }> {
    const out: Record<string, { fastMs: number; baselineMs: number; samples: number }> = {};
    for (const [name, s] of this.signals)
      out[name] = { fastMs: Math.round(s.fast), baselineMs: Math.round(s.baseline), samples: s.samples };
    return out;
  }
}

export class BackoffDelay {
  private delay = 0;

  constructor(
    private readonly maxMs: number,
    private readonly stepMs = 50,
  ) {}

  /** The pause before the next batch, given whether anything is overloaded now. */
  next(overloaded: boolean): number {
    if (overloaded) this.delay = Math.min(this.maxMs, Math.max(this.stepMs, this.delay * 2));
    else this.delay = this.delay / 2 < this.stepMs ? 0 : this.delay / 2;
    return this.delay;
  }

  get current(): number {
    return this.delay;
  }
}
