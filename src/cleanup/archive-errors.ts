import { DomainError } from '../common/errors';

/** No target configured: the archive cannot run (nothing else is affected). */
export class ArchiveNotConfiguredError extends DomainError {
  constructor() {
    super('ARCHIVE_NOT_CONFIGURED', 409, 'no legacy archive target is configured: set ARCHIVE_DIR or ARCHIVE_S3_BUCKET');
  }
}

/** One archive at a time per process: a second call while one runs is refused, not queued. */
export class ArchiveInProgressError extends DomainError {
  constructor() {
    super('ARCHIVE_IN_PROGRESS', 409, 'an archive of the legacy collection is already running in this process');
  }
}
