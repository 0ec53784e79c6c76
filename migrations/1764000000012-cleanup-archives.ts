import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Archive runs of the cleanup phase: each archive of the legacy collection, where it went, its
 * manifest, the check against the store, and progress while it runs. The gate into `complete` reads
 * the newest run.
 */
export class CleanupArchives1764000000012 implements MigrationInterface {
  name = 'CleanupArchives1764000000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE cleanup_archives (
        id           bigserial   PRIMARY KEY,
        requested_at timestamptz NOT NULL DEFAULT now(),
        requested_by text        NOT NULL,
        started_at   timestamptz NULL,
        finished_at  timestamptz NULL,
        state        text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'archiving', 'verifying', 'verified', 'failed')),
        target       text        NULL,
        manifest     jsonb       NULL,
        problems     jsonb       NULL,
        progress     jsonb       NULL,
        error        text        NULL,
        attempts     integer     NOT NULL DEFAULT 0
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE cleanup_archives');
  }
}
