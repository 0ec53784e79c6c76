/**
 * Cleanup's archive runs: started by an operator or by the move into `cleanup`, run by a worker
 * (`runArchive`): archive the legacy collection, then check the archive against the store (count and a
 * re-read checksum). The gate into `complete` passes only on a verified run finished in cleanup.
 */
import { Logger } from '@nestjs/common';
import { DomainError } from '../common/errors';
import { MigrationStateRepository } from '../mode/migration-state.repository';
import type { ArchiveProgress } from './archive-progress';
import { ArchiveRun, ArchiveRunRepository } from './archive-run.repository';
import { CleanupQueue } from './cleanup-queue';
import type { LegacyArchiver } from './legacy-archiver';

/** Progress is written at most this often (the archiver reports about once a second). */
const PROGRESS_WRITE_MS = 1000;
/** A running archive with no sign of life for this long has lost its worker. */
export const ARCHIVE_STALE_MS = 10 * 60_000;

/** Whether an unfinished run may be without a worker: queued, or running without a sign of life. */
export function archiveMayNeedJob(run: Pick<ArchiveRun, 'state' | 'heartbeatAt'>, now: number): boolean {
  if (run.state === 'queued') return true;
  if (run.state !== 'archiving' && run.state !== 'verifying') return false;
  return now - Date.parse(run.heartbeatAt) > ARCHIVE_STALE_MS;
}

export class CleanupService {
  private readonly logger = new Logger('Cleanup');

  constructor(
    private readonly archiver: LegacyArchiver,
    private readonly runs: ArchiveRunRepository,
    private readonly queue: CleanupQueue,
    private readonly migrationState: MigrationStateRepository,
  ) {}

  /** Queues an archive run; the one already queued or running when there is one. */
  async start(actor: string): Promise<{ run: ArchiveRun; created: boolean }> {
    const state = await this.migrationState.read();
    if (state.phase !== 'cleanup') {
      throw new DomainError(
        'WRONG_PHASE',
        409,
        `The legacy collection is archived in cleanup, once the legacy store no longer receives writes; the migration is in ${state.phase}`,
      );
    }
    if (!this.archiver.configured) {
      throw new DomainError(
        'ARCHIVE_NOT_CONFIGURED',
        409,
        'No archive target: set ARCHIVE_DIR or ARCHIVE_S3_BUCKET on the API and the workers',
      );
    }
    // Another replica may queue one between the look and the insert: the insert then yields, and the look again finds it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const active = await this.runs.active();
      if (active) return { run: active, created: false };
      const run = await this.runs.create(actor, this.archiver.describeTarget());
      if (!run) continue;
      await this.queue.enqueue(run.id, run.requestedAt);
      return { run, created: true };
    }
    throw new DomainError('ARCHIVE_BUSY', 409, 'Archive runs are being queued and finished too fast to answer with one; retry');
  }

  /**
   * The worker's half: archive, check, record. A re-run after a crash starts the archive over. A run whose job
   * another worker took over (this one stalled past its job lock) stops at its next write and leaves the run to that
   * worker: each attempt writes an archive of its own (names with its start time), so the two never collide.
   */
  async runArchive(id: number): Promise<ArchiveRun> {
    const run = await this.runs.get(id);
    if (!run) throw new Error(`archive run ${id} does not exist`);
    if (run.state === 'verified' || run.state === 'failed') return run;
    const claim = await this.runs.begin(id);
    if (claim === null) return this.current(id);
    let last = 0;
    const onProgress = (p: ArchiveProgress) => {
      if (!p.done && Date.now() - last < PROGRESS_WRITE_MS) return;
      last = Date.now();
      void this.runs.progress(id, claim, p).catch(() => undefined);
    };
    try {
      const manifest = await this.archiver.archive({ onProgress });
      if (!(await this.runs.archived(id, claim, manifest))) return this.superseded(id, claim, manifest.archive.location);
      const check = await this.archiver.verify(manifest, { onProgress });
      const problems = check.problems.map((p) => ({ code: p.code, message: p.message }));
      const finished = await this.runs.finish(
        id,
        claim,
        check.ok ? 'verified' : 'failed',
        problems,
        check.ok ? null : `the archive does not match the store: ${problems.map((p) => p.code).join(', ')}`,
      );
      if (!finished) return this.superseded(id, claim, manifest.archive.location);
      this.logger.log({
        msg: check.ok ? 'legacy archive verified' : 'legacy archive check failed',
        id,
        documents: manifest.documentCount,
        location: manifest.archive.location,
      });
      return finished;
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn({ msg: 'legacy archive failed', id, error: message });
      return (await this.runs.finish(id, claim, 'failed', null, message)) ?? this.superseded(id, claim, null);
    }
  }

  private async superseded(id: number, claim: number, location: string | null): Promise<ArchiveRun> {
    this.logger.warn({
      msg: 'archive run taken over by another worker or finished meanwhile; this attempt stops, its archive unused',
      id,
      attempt: claim,
      location,
    });
    return this.current(id);
  }

  private async current(id: number): Promise<ArchiveRun> {
    const run = await this.runs.get(id);
    if (!run) throw new Error(`archive run ${id} does not exist`);
    return run;
  }

  /**
   * A worker's periodic check (see WorkRecovery): a queued run whose job Redis lost is queued again;
   * so is a running one whose worker has shown no sign of life for ARCHIVE_STALE_MS (it died while its
   * job was lost too). A live run is left to its worker: two writers of one archive would collide.
   */
  async recover(now = Date.now()): Promise<string[]> {
    const run = await this.runs.active();
    if (!run || !archiveMayNeedJob(run, now)) return [];
    return (await this.queue.ensure(run.id, run.requestedAt)) ? [`archive run ${run.id}`] : [];
  }

  latest(): Promise<ArchiveRun | null> {
    return this.runs.latest();
  }

  get(id: number): Promise<ArchiveRun | null> {
    return this.runs.get(id);
  }

  /** The gate into `complete`: a verified archive finished after cleanup was entered. */
  async verifiedSince(since: Date): Promise<boolean> {
    const run = await this.runs.latest();
    return !!run && run.state === 'verified' && !!run.finishedAt && new Date(run.finishedAt) >= since;
  }

  /** For `status`: the newest run, and the target. */
  async summary(): Promise<ArchiveRun | { state: 'not_started'; verified: false; target: string | null }> {
    const run = await this.runs.latest();
    return run ?? { state: 'not_started' as const, verified: false as const, target: this.archiver.describeTarget() };
  }
}
