/**
 * VerifyRunner: drives one verification run to its end on this worker, phase by phase:
 *   scan (ChunkScanner) -> recheck (Rechecker.drain) -> repair (VerifyRepairer, repair mode only) -> done.
 * Every phase works from state committed in PostgreSQL, so a run picked up again (after a crash, a
 * shutdown, a transient error) continues where it stopped. The worker holds the run by a lease that a
 * timer renews; if the lease is lost (another worker took the run over) the run stops at its next
 * boundary without writing anything more.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { settlesWithin } from '../common/timeout';
import type { ChunkScanner } from './chunk-scanner';
import type { Rechecker } from './rechecker';
import { RunContext, RunInterruptedError } from './run-context';
import type { VerifyRepairer } from './verify-repairer';
import { LostClaimError, VerifyRun, VerifyRunRepository } from './verify-run.repository';

export const LEASE_MS = 30_000;

/** Another worker holds a live lease on the run: retried later (by then the lease is renewed or expired). */
export class RunHeldError extends Error {
  constructor(runId: number, holder: string | null, until: Date | null) {
    super(`verification run ${runId} is held by ${holder ?? 'another worker'} until ${until?.toISOString() ?? 'unknown'}`);
    this.name = 'RunHeldError';
  }
}

export class VerifyRunner {
  readonly worker = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly logger = new Logger('VerifyRunner');
  private stopping = false;
  private readonly active = new Set<Promise<unknown>>();

  constructor(
    private readonly runs: VerifyRunRepository,
    private readonly scanner: ChunkScanner,
    private readonly rechecker: Rechecker,
    private readonly repairer: VerifyRepairer,
    private readonly leaseMs = LEASE_MS,
  ) {}

  /** Runs stop at their next boundary from now on; `settled` waits for them. */
  beginShutdown(): void {
    this.stopping = true;
  }

  async settled(timeoutMs: number): Promise<void> {
    await settlesWithin(Promise.allSettled([...this.active]), timeoutMs);
  }

  /**
   * Runs `runId` to its end. Returns the finished run (or the run as it is, when it was already
   * finished). Throws RunInterruptedError on shutdown, LostClaimError when taken over, RunHeldError when
   * another worker holds it, and any other error after recording it on the run (`failed` if `finalAttempt`).
   */
  async run(runId: number, opts: { finalAttempt: boolean }): Promise<VerifyRun | null> {
    const work = this.drive(runId, opts);
    this.active.add(work);
    try {
      return await work;
    } finally {
      this.active.delete(work);
    }
  }

  private async drive(runId: number, opts: { finalAttempt: boolean }): Promise<VerifyRun | null> {
    if (this.stopping) throw new RunInterruptedError(runId);
    const run = await this.runs.claim(runId, this.worker, this.leaseMs);
    if (!run) {
      const current = await this.runs.get(runId);
      if (!current || current.status === 'completed' || current.status === 'failed') return current;
      throw new RunHeldError(runId, current.claimedBy, current.leaseUntil);
    }
    const ctx = new RunContext(run, this.worker, () => this.stopping);
    const keeper = setInterval(
      () => {
        this.runs.renewLease(runId, this.worker, this.leaseMs).then(
          (held) => held || ctx.markLeaseLost(),
          (err) => this.logger.warn({ msg: 'could not renew the lease of a verification run', runId, error: (err as Error).message }),
        );
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.logger.log({ msg: 'verification run started', runId, phase: run.phase, mode: run.mode, attempt: run.attempts });
    try {
      let phase = run.phase;
      if (phase === 'scan') {
        await this.scanner.scan(ctx);
        phase = 'recheck';
      }
      if (phase === 'recheck') {
        await this.rechecker.drain(ctx);
        phase = run.mode === 'repair' ? 'repair' : 'done';
        await this.runs.setPhase(runId, this.worker, phase);
      }
      const note = phase === 'repair' ? await this.repairer.repairAll(ctx) : null;
      await this.runs.finish(runId, this.worker, note);
      const done = await this.runs.get(runId);
      this.logger.log({
        msg: 'verification run completed',
        runId,
        missing: done?.missing,
        extra: done?.extra,
        different: done?.different,
        repaired: done?.repaired,
      });
      return done;
    } catch (err) {
      if (err instanceof RunInterruptedError) {
        await this.runs.release(runId, this.worker, null).catch(() => undefined);
      } else if (!(err instanceof LostClaimError)) {
        const message = (err as Error).message ?? String(err);
        if (opts.finalAttempt) await this.runs.fail(runId, this.worker, message).catch(() => undefined);
        else await this.runs.release(runId, this.worker, `attempt ${run.attempts} failed, retrying: ${message}`).catch(() => undefined);
        this.logger.warn({ msg: 'verification run attempt failed', runId, final: opts.finalAttempt, error: message });
      }
      throw err;
    } finally {
      clearInterval(keeper);
    }
  }
}
