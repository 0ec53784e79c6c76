/**
 * Starting and reporting verification runs (the API side; the work happens in a worker, see
 * verify.processor.ts). Starting creates the run in PostgreSQL first and then enqueues it, so a run
 * that could not be queued is marked failed with the reason instead of waiting forever.
 */
import { Injectable, Logger } from '@nestjs/common';
import { DomainError, NotFoundError, ServiceUnavailableError } from '../common/errors';
import { MigrationModeService } from '../mode/migration-mode.service';
import { ReportQuery, VerifyOptions } from './verify.schemas';
import { RunReport, runReport, RunSummary, runSummary } from './verify-report';
import { repairRefusal } from './verify-repairer';
import { VerifyQueue } from './verify-queue';
import { VerifyRunRepository } from './verify-run.repository';
import { LEASE_MS } from './verify.runner';

/** A queued or running run nobody has advanced for this long is presumed lost (its job or its worker). */
export const STALE_AFTER_MS = 10 * LEASE_MS;

@Injectable()
export class VerifyService {
  private readonly logger = new Logger('VerifyService');

  constructor(
    private readonly runs: VerifyRunRepository,
    private readonly queue: VerifyQueue,
    private readonly mode: MigrationModeService,
  ) {}

  /** `enqueue: false` leaves the run to the caller (the CLI runs it in its own process). */
  async start(options: VerifyOptions, requestedBy: string | null, opts: { enqueue: boolean } = { enqueue: true }): Promise<RunSummary> {
    if (options.repair) {
      const refusal = repairRefusal((await this.mode.current()).phase);
      if (refusal) throw new DomainError('REPAIR_NOT_AVAILABLE', 409, refusal);
    }
    const estimate = await this.runs.estimateRecords().catch(() => 0);
    const run = await this.runs.create(options, requestedBy, estimate, STALE_AFTER_MS);
    if (!opts.enqueue) return runSummary(run);
    try {
      await this.queue.add(run.id, run.createdAt);
    } catch (err) {
      const message = `could not be queued: ${(err as Error).message}`;
      await this.runs.failQueued(run.id, message).catch(() => undefined);
      this.logger.error({ msg: 'verification run could not be queued', runId: run.id, error: (err as Error).message });
      throw new ServiceUnavailableError(`Verification run ${run.id} ${message}`);
    }
    this.logger.log({ msg: 'verification run queued', runId: run.id, mode: run.mode, requestedBy, chunkSize: run.chunkSize });
    return runSummary(run);
  }

  async report(runId: number, query: ReportQuery): Promise<RunReport> {
    const run = await this.runs.get(runId);
    if (!run) throw new NotFoundError(`Verification run ${runId}`);
    return runReport(run, query, await this.runs.differences(runId, query));
  }

  async summary(runId: number): Promise<RunSummary> {
    const run = await this.runs.get(runId);
    if (!run) throw new NotFoundError(`Verification run ${runId}`);
    return runSummary(run);
  }

  /**
   * A worker's periodic check (see WorkRecovery): an unfinished run that no worker holds a live lease
   * on gets its job back if Redis lost it. The run resumes from its checkpoint.
   */
  async recover(): Promise<string[]> {
    const run = await this.runs.active();
    if (!run || (run.leaseUntil && run.leaseUntil.getTime() > Date.now())) return [];
    return (await this.queue.ensure(run.id, run.createdAt)) ? [`verification run ${run.id}`] : [];
  }

  async list(limit: number): Promise<RunSummary[]> {
    return (await this.runs.list(limit)).map(runSummary);
  }
}
