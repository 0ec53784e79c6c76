/**
 * What the parts of a run share while one worker drives it: the run's settings, the worker's claim,
 * and the ways it stops early. A run stops at the next chunk or batch boundary (after its commit) when
 * the process shuts down or when its lease was lost; either way the committed state is complete and
 * another worker resumes from it.
 */
import { LostClaimError, VerifyRun } from './verify-run.repository';

export class RunInterruptedError extends Error {
  constructor(runId: number) {
    super(`verification run ${runId} interrupted by shutdown; it resumes from its checkpoint`);
    this.name = 'RunInterruptedError';
  }
}

const SLEEP_SLICE_MS = 100;

export class RunContext {
  private leaseLost = false;

  constructor(
    readonly run: VerifyRun,
    readonly worker: string,
    private readonly shuttingDown: () => boolean,
  ) {}

  markLeaseLost(): void {
    this.leaseLost = true;
  }

  /** Throws when the run must stop here. */
  checkStop(): void {
    if (this.leaseLost) throw new LostClaimError(this.run.id);
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
