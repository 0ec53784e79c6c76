import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One archive run queued or running at a time, enforced by PostgreSQL: two API replicas asked at the same moment
 * both found none active and both queued one (test/cleanup-archive-replicas.test.ts). Runs left active together
 * by that race end as failed, except the newest, which goes on.
 */
export class OneActiveArchive1764000000018 implements MigrationInterface {
  name = 'OneActiveArchive1764000000018';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE cleanup_archives
       SET state = 'failed', finished_at = now(), error = 'superseded: another archive run was queued at the same time'
       WHERE state IN ('queued', 'archiving', 'verifying')
         AND id < (SELECT max(id) FROM cleanup_archives WHERE state IN ('queued', 'archiving', 'verifying'))`,
    );
    await q.query(
      `CREATE UNIQUE INDEX cleanup_archives_one_active ON cleanup_archives ((true)) WHERE state IN ('queued', 'archiving', 'verifying')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX cleanup_archives_one_active');
  }
}
