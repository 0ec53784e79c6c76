import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The migration's own state: one row holding the phase (which decides the stores' roles for every
 * replica), and the durable outbox of divergences that could not be queued because Redis was down.
 */
export class CreateMigrationState1764000000001 implements MigrationInterface {
  name = 'CreateMigrationState1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE migration_state (
        id          smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        phase       text        NOT NULL DEFAULT 'not_started',
        step        integer     NOT NULL DEFAULT 0,
        revision    integer     NOT NULL DEFAULT 0,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO migration_state (id) VALUES (1)`);
    await q.query(`
      CREATE TABLE repair_outbox (
        id              bigserial   PRIMARY KEY,
        conversation_id char(24)    NOT NULL,
        source          text        NOT NULL CHECK (source IN ('legacy', 'new')),
        reason          text        NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE repair_outbox');
    await q.query('DROP TABLE migration_state');
  }
}
