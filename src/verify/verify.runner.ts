/**
 * VerifyRunner: drives one verification run to its end on this worker, phase by phase:
 *   scan (ChunkScanner) -> recheck (Rechecker.drain) -> repair (VerifyRepairer, repair mode only) -> done.
 * Every phase works from state committed in PostgreSQL, so a run picked up again (after a crash, a
 * shutdown, a transient error) continues where it stopped. The worker holds the run by a lease that a
 * timer renews; if the lease is lost (another worker took the run over) the run stops at its next
 * boundary without writing anything more.
 *
 * The scan is split into `_id` segments, each walked under a lease of its own. The run's holder plans them and
 * asks for helpers (`HelperRequest`: jobs that other workers take); it walks free segments itself, and while
 * the others walk theirs it rechecks suspects, until every segment is done. A helper (`help`) walks free
 * segments until none is left; it never touches the run's own state, so one that dies costs only its segment's
 * lease, after which the holder or another helper takes the segment over from its cursor.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { settlesWithin } from '../common/timeout';
import type { ChunkScanner } from './chunk-scanner';
import type { Rechecker } from './rechecker';
import { RunContext, RunInterruptedError } from './run-context';
import type { VerifyRepairer } from './verify-repairer';
import { LostClaimError, LostSegmentError, Segment, VerifyRun, VerifyRunRepository } from './verify-run.repository';

export const LEASE_MS = 30_000;
/** Longest wait of the run's holder between looks at the segments others walk. */
const SEGMENT_POLL_MS = 1000;
/** At most this many helper jobs per walk: more workers than that cannot share one run. */
export const MAX_HELPERS = 15;

/** Queues `count` helper jobs for the run's walk; `round` tells one holder's request from a later one's. */
export type HelperRequest = (run: VerifyRun, count: number, round: number) => Promise<void>;

/** Another worker holds a live lease on the run: retried later (by then the lease is renewed or expired). */
export class RunHeldError extends Error {
  constructor(runId: number, holder: string | null, until: Date | null) {
    super(`verification run ${runId} is held by ${holder ?? 'another worker'} until ${until?.toISOString() ?? 'unknown'}`);
    this.name = 'RunHeldError';
  }
}

export interface RunOptions {
  finalAttempt: boolean;
  /** Queue helper jobs for the walk's other segments (default true). */
  helpers?: boolean;
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
    private readonly requestHelpers: HelperRequest | null = null,
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
   * `helpers: false` walks every segment here without queuing helper jobs (no worker would take them).
   */
  async run(runId: number, opts: RunOptions): Promise<VerifyRun | null> {
    return this.track(this.drive(runId, opts));
  }

  /**
   * Walks free segments of the run until none is left (or the run stops walking); returns how many it walked.
   * Throws RunInterruptedError on shutdown (its segment given back first), and any other error after giving
   * its segment back: the run itself is left alone either way.
   */
  async help(runId: number): Promise<number> {
    return this.track(this.assist(runId));
  }

  private async track<T>(work: Promise<T>): Promise<T> {
    this.active.add(work);
    try {
      return await work;
    } finally {
      this.active.delete(work);
    }
  }

  private async assist(runId: number): Promise<number> {
    if (this.stopping) throw new RunInterruptedError(runId);
    const run = await this.runs.get(runId);
    if (!run || run.status !== 'running' || run.phase !== 'scan') return 0;
    const ctx = new RunContext(run, this.worker, () => this.stopping);
    let walked = 0;
    for (;;) {
      ctx.checkStop();
      const seg = await this.runs.claimSegment(runId, this.worker, this.leaseMs);
      if (!seg) return walked;
      if (await this.walkSegment(ctx, seg, false)) walked += 1;
    }
  }

  /**
   * The holder's walk: plans it (once), asks for helpers, then walks free segments; when none is free it
   * rechecks due suspects and looks again, until every segment is done.
   */
  private async walk(ctx: RunContext, helpers: boolean): Promise<void> {
    const { run } = ctx;
    await this.scanner.plan(ctx);
    const left = await this.runs.segmentsLeft(run.id);
    if (left > 1 && helpers && this.requestHelpers) {
      await this.requestHelpers(run, Math.min(left - 1, MAX_HELPERS), run.attempts).catch((err: Error) =>
        this.logger.warn({ msg: 'could not ask for helpers; this worker walks every segment', runId: run.id, error: err.message }),
      );
    }
    for (;;) {
      ctx.checkStop();
      const seg = await this.runs.claimSegment(run.id, this.worker, this.leaseMs);
      if (seg) {
        await this.walkSegment(ctx, seg, true);
        continue;
      }
      if ((await this.runs.segmentsLeft(run.id)) === 0) return;
      const wait = await this.rechecker.recheckDue(ctx);
      await ctx.sleep(Math.min(Math.max(wait ?? SEGMENT_POLL_MS, 20), SEGMENT_POLL_MS));
    }
  }

  /**
   * Walks `seg` under its own lease. True when this worker finished it; false when its lease was lost (another
   * worker has it now). Any other way out gives the segment back before throwing.
   */
  private async walkSegment(ctx: RunContext, seg: Segment, recheck: boolean): Promise<boolean> {
    ctx.walkingSegment(seg.segment);
    const keeper = setInterval(
      () => {
        this.runs.renewSegment(seg, this.worker, this.leaseMs).then(
          (held) => held || ctx.markSegmentLost(seg.segment),
          (err) =>
            this.logger.warn({
              msg: 'could not renew the lease of a segment',
              runId: seg.runId,
              segment: seg.segment,
              error: (err as Error).message,
            }),
        );
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    try {
      await this.scanner.scanSegment(ctx, seg, recheck);
      return true;
    } catch (err) {
      if (err instanceof LostSegmentError) {
        this.logger.warn({ msg: 'lost the lease of a segment; another worker walks it on', runId: seg.runId, segment: seg.segment });
        return false;
      }
      await this.runs.releaseSegment(seg, this.worker).catch(() => undefined);
      throw err;
    } finally {
      clearInterval(keeper);
    }
  }

  private async drive(runId: number, opts: RunOptions): Promise<VerifyRun | null> {
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
        await this.walk(ctx, opts.helpers ?? true);
        phase = 'recheck';
        await this.runs.setPhase(runId, this.worker, phase);
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
