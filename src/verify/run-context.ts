/**
 * What the parts of a run share while a worker works on it: the run's settings, the worker's claims (the
 * run's, held by the worker that drives it; the segment it walks), and the ways it stops early. Work stops at
 * the next chunk or batch boundary (after its commit) when the process shuts down or when a lease was lost;
 * either way the committed state is complete and another worker resumes from it.
 */
import { LostClaimError, LostSegmentError, VerifyRun } from './verify-run.repository';

export class RunInterruptedError extends Error {
  constructor(runId: number) {
    super(`verification run ${runId} interrupted by shutdown; it resumes from its checkpoint`);
    this.name = 'RunInterruptedError';
  }
}

const SLEEP_SLICE_MS = 100;

export class RunContext {
  private leaseLost = false;
  private segment: number | null = null;
  private segmentLost = false;

  constructor(
    readonly run: VerifyRun,
    readonly worker: string,
    private readonly shuttingDown: () => boolean,
  ) {}

  markLeaseLost(): void {
    this.leaseLost = true;
  }

  /**
   * The lease of `segment` was lost: if it is the segment being walked, its walk stops at the next boundary (a
   * late answer about a segment walked before is ignored).
   */
  markSegmentLost(segment: number): void {
    if (segment === this.segment) this.segmentLost = true;
  }

  /** `segment` is walked from now on: an earlier one's lost lease does not stop it. */
  walkingSegment(segment: number): void {
    this.segment = segment;
    this.segmentLost = false;
  }

  /** Throws when the run, or the segment being walked, must stop here. */
  checkStop(): void {
    if (this.leaseLost) throw new LostClaimError(this.run.id);
    if (this.segmentLost) throw new LostSegmentError(this.run.id, this.segment!);
    if (this.shuttingDown()) throw new RunInterruptedError(this.run.id);
  }

  /** Sleeps, but wakes (and throws) as soon as the run must stop. */
  async sleep(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      this.checkStop();
      const left = until - Date.now();
      if (left <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, SLEEP_SLICE_MS)));
    }
  }
}
