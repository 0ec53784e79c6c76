import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When an archive run last showed a sign of life (started, progress, archived, finished). A run that is
 * archiving with no worker job left (Redis lost it) and no sign of life for a long while is queued again
 * by a worker's recovery check; a live one is left to the worker writing it.
 */
export class ArchiveHeartbeat1764000000014 implements MigrationInterface {
  name = 'ArchiveHeartbeat1764000000014';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE cleanup_archives ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now()');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE cleanup_archives DROP COLUMN heartbeat_at');
  }
}
