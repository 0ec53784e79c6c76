import { archiveMayNeedJob, ARCHIVE_STALE_MS } from './cleanup.service';

describe('archiveMayNeedJob (work recovery of archive runs)', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();

  it('gives a queued run its job back whatever its age', () => {
    expect(archiveMayNeedJob({ state: 'queued', heartbeatAt: at(0) }, now)).toBe(true);
  });

  it('leaves a running archive with a recent sign of life to its worker (two writers of one archive would collide)', () => {
    expect(archiveMayNeedJob({ state: 'archiving', heartbeatAt: at(ARCHIVE_STALE_MS - 1) }, now)).toBe(false);
    expect(archiveMayNeedJob({ state: 'verifying', heartbeatAt: at(1000) }, now)).toBe(false);
  });

  it('queues again a running archive whose worker has been silent too long', () => {
    expect(archiveMayNeedJob({ state: 'archiving', heartbeatAt: at(ARCHIVE_STALE_MS + 1) }, now)).toBe(true);
    expect(archiveMayNeedJob({ state: 'verifying', heartbeatAt: at(ARCHIVE_STALE_MS + 1) }, now)).toBe(true);
  });

  it('never touches a finished run', () => {
    expect(archiveMayNeedJob({ state: 'verified', heartbeatAt: at(ARCHIVE_STALE_MS * 10) }, now)).toBe(false);
    expect(archiveMayNeedJob({ state: 'failed', heartbeatAt: at(ARCHIVE_STALE_MS * 10) }, now)).toBe(false);
  });
});
