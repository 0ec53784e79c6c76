import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The traffic intent log carries what recovery needs: the change's kind (new weights, or retiring the
 * legacy record at cleanup), the weights before it (to undo it), the phase move it belongs to (so the
 * phase is committed only when its change is done), and when it was last touched.
 */
export class TrafficIntents1764000000011 implements MigrationInterface {
  name = 'TrafficIntents1764000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE traffic_changes
        ADD COLUMN kind          text        NOT NULL DEFAULT 'weights' CHECK (kind IN ('weights', 'retire_legacy')),
        ADD COLUMN before_legacy integer     NULL,
        ADD COLUMN before_new    integer     NULL,
        ADD COLUMN move          jsonb       NULL,
        ADD COLUMN attempts      integer     NOT NULL DEFAULT 0,
        ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now()`);
    await q.query(`CREATE INDEX traffic_changes_open ON traffic_changes (id) WHERE state IN ('intent', 'submitted')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX traffic_changes_open');
    await q.query(`
      ALTER TABLE traffic_changes
        DROP COLUMN kind, DROP COLUMN before_legacy, DROP COLUMN before_new, DROP COLUMN move, DROP COLUMN attempts, DROP COLUMN updated_at`);
  }
}
