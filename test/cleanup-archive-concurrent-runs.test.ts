/**
 * Two attempts of one archive run at once: a worker stalled in the middle of its archive past the cleanup job's
 * lock, another worker took the job over and finished the run, then the first one woke up with its own archive.
 * CleanupService.runArchive twice on one `cleanup_archives` table in PostgreSQL, each with an archiver that is a fake
 * of the service's archiving (what it writes to a target is cleanup-archive.test.ts's), the first one held until the
 * second has finished. The run must stay as the second attempt finished it: verified, with its manifest. Before each
 * start claimed the run, the late attempt put the verified run back to `verifying` with its own manifest and
 * finished it again (as `failed`, had its check failed).
 */
import type { Manifest } from '../src/cleanup/archive-manifest';
import { ArchiveRunRepository } from '../src/cleanup/archive-run.repository';
import type { CleanupQueue } from '../src/cleanup/cleanup-queue';
import { CleanupService } from '../src/cleanup/cleanup.service';
import type { LegacyArchiver } from '../src/cleanup/legacy-archiver';
import type { MigrationStateRepository } from '../src/mode/migration-state.repository';
import { useMigratedDatabase } from './support/databases';

/** What runArchive uses of the archiver: archive (optionally held until released) and verify. */
function fakeArchiver(location: string, hold?: Promise<void>) {
  const calls: string[] = [];
  let reached!: () => void;
  const archiving = new Promise<void>((r) => (reached = r));
  const archiver = {
    configured: true,
    describeTarget: () => 'fake target',
    archive: async () => {
      calls.push('archive');
      reached();
      await hold;
      return { documentCount: 3, archive: { location } } as unknown as Manifest;
    },
    verify: async () => {
      calls.push('verify');
      return { ok: true, problems: [] };
    },
  };
  return { archiver: archiver as unknown as LegacyArchiver, calls, archiving };
}

describe('two attempts of one archive run at once (a cleanup worker stalled past its job lock)', () => {
  const db = useMigratedDatabase();

  it('the late attempt writes nothing: the run stays verified with the manifest of the attempt that finished it', async () => {
    const runs = new ArchiveRunRepository(db.ds);
    const run = (await runs.create('test', 'fake target'))!;
    let release!: () => void;
    const late = fakeArchiver('fake://late', new Promise<void>((r) => (release = r)));
    const taker = fakeArchiver('fake://taker');
    const service = (archiver: LegacyArchiver) => new CleanupService(archiver, runs, {} as CleanupQueue, {} as MigrationStateRepository);

    const first = service(late.archiver).runArchive(run.id);
    await late.archiving;
    const second = await service(taker.archiver).runArchive(run.id);
    expect(second).toMatchObject({ state: 'verified', attempts: 2, manifest: { archive: { location: 'fake://taker' } } });

    release();
    const woke = await first;
    expect(late.calls).toEqual(['archive']);
    expect(woke).toMatchObject({ state: 'verified', attempts: 2, manifest: { archive: { location: 'fake://taker' } } });
    expect(await runs.get(run.id)).toMatchObject({
      state: 'verified',
      attempts: 2,
      finishedAt: second.finishedAt,
      manifest: { archive: { location: 'fake://taker' } },
    });
  });
});
