import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The phase machine's state and record.
 * - migration_state gains when the current step was entered, the pause flag, the automatic
 *   progression's failed-check count, a pending move (set while its traffic change is applied, so a
 *   crash in between is visible and finished on start-up), and the flip and drain times.
 * - migration_audit: every transition, traffic change, force and rollback: who, when, why, before, after.
 * - traffic_changes: the intent log of weight changes (written before the call, marked done after).
 */
export class CreatePhaseMachine1764000000010 implements MigrationInterface {
  name = 'CreatePhaseMachine1764000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE migration_state
        ADD COLUMN entered_at           timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN paused               boolean     NOT NULL DEFAULT false,
        ADD COLUMN auto_failures        integer     NOT NULL DEFAULT 0,
        ADD COLUMN pending_move         jsonb       NULL,
        ADD COLUMN flipped_at           timestamptz NULL,
        ADD COLUMN legacy_drained_since timestamptz NULL`);
    await q.query(`
      CREATE TABLE migration_audit (
        id        bigserial   PRIMARY KEY,
        at        timestamptz NOT NULL DEFAULT now(),
        actor     text        NOT NULL,
        action    text        NOT NULL,
        reason    text        NULL,
        forced    boolean     NOT NULL DEFAULT false,
        before    jsonb       NULL,
        after     jsonb       NULL,
        details   jsonb       NULL
      )`);
    await q.query(`
      CREATE TABLE traffic_changes (
        id            bigserial   PRIMARY KEY,
        requested_at  timestamptz NOT NULL DEFAULT now(),
        provider      text        NOT NULL,
        legacy_weight integer     NOT NULL CHECK (legacy_weight BETWEEN 0 AND 255),
        new_weight    integer     NOT NULL CHECK (new_weight BETWEEN 0 AND 255),
        state         text        NOT NULL CHECK (state IN ('intent', 'submitted', 'done', 'failed', 'undone')),
        change_id     text        NULL,
        completed_at  timestamptz NULL,
        error         text        NULL,
        CHECK (legacy_weight + new_weight > 0)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE traffic_changes');
    await q.query('DROP TABLE migration_audit');
    await q.query(`
      ALTER TABLE migration_state
        DROP COLUMN entered_at, DROP COLUMN paused, DROP COLUMN auto_failures, DROP COLUMN pending_move,
        DROP COLUMN flipped_at, DROP COLUMN legacy_drained_since`);
  }
}
